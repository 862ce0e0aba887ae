# The gateway architectures: one table for the cross build, the qemu-user tests and the
# packages (source it; bash). cross_arch ARCH sets, for ARCH in armv7, aarch64, mipsel:
#   x_triple    Rust target triple
#   x_gcc       C cross compiler and linker (Debian's gcc-*-linux-gnu*)
#   x_strip     its strip
#   x_qemu      qemu-user binary (qemu-user-static)
#   x_sysroot   the Debian cross sysroot (QEMU_LD_PREFIX, if a binary ends up dynamic)
#   x_file      what `file -b` says of a static binary of the arch (ERE)
#   x_packages  the Debian packages for the cross toolchain (scripts/setup.sh installs them)
#   x_features  rustc target features beyond the target's defaults (-C target-feature)
#   x_rustflags, x_cflags  further rustc / C compiler flags of the arch (may be empty)
# Every arch builds with Debian's rustc-web + rust-web-src (-Zbuild-std) unless rustup
# has the target's std installed.
cross_arches=(armv7 aarch64 mipsel)

cross_arch() {
  x_features="" x_rustflags="" x_cflags=""
  case "$1" in
    armv7)
      x_triple=armv7-unknown-linux-gnueabihf
      x_gcc=arm-linux-gnueabihf-gcc
      x_qemu=qemu-arm-static
      x_sysroot=/usr/arm-linux-gnueabihf
      x_file='ARM, EABI5.*statically'
      x_packages=(gcc-arm-linux-gnueabihf libc6-dev-armhf-cross)
      # Debian's rustc enables 32 D registers for this target (target_feature "d32"), so
      # float code used d16-d31 and died with SIGILL on VFPv3-D16 CPUs (mvebu). The
      # baseline of the OpenWrt arm targets and of Debian armhf is VFPv3-D16; rustc warns
      # that the feature is unstable, and honours it.
      x_features=-d32
      ;;
    aarch64)
      x_triple=aarch64-unknown-linux-gnu
      x_gcc=aarch64-linux-gnu-gcc
      x_qemu=qemu-aarch64-static
      x_sysroot=/usr/aarch64-linux-gnu
      x_file='ARM aarch64.*statically'
      x_packages=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
      ;;
    mipsel)
      x_triple=mipsel-unknown-linux-gnu
      x_gcc=mipsel-linux-gnu-gcc
      x_qemu=qemu-mipsel-static
      x_sysroot=/usr/mipsel-linux-gnu
      x_file='LSB.*MIPS.*statically'
      x_packages=(gcc-mipsel-linux-gnu libc6-dev-mipsel-cross)
      # Not position-independent: the static binary needs no GOT, and o32 PIC code loads
      # every call target and global through $gp (5,591,064 -> 5,195,256 bytes stripped).
      x_rustflags="-C relocation-model=static"
      x_cflags="-mno-abicalls -fno-pic"
      ;;
    *)
      echo "unknown gateway arch '$1' (expected one of: ${cross_arches[*]})" >&2
      return 2
      ;;
  esac
  x_strip=${x_gcc%gcc}strip
}
