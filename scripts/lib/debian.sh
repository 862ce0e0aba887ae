# Debian archive helpers shared by the set-up and VM scripts (source it; bash).
#
# Every address comes from the machine's own apt configuration: nothing here names a
# mirror. `apt-get indextargets` lists the repositories apt is configured with (after an
# `apt-get update`), so the archive that serves "$codename main" is the one we reuse for
# backports and for the private per-architecture apt states of the VM harness.

debian_sudo=""; [ "$(id -u)" -eq 0 ] || debian_sudo=sudo
debian_codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")

# debian_apt_update: `apt-get update`, quietly.
debian_apt_update() {
  $debian_sudo apt-get update -qq
}

# debian_main_target: the URI of apt's index target for "$debian_codename main", if any.
debian_main_target() {
  apt-get indextargets --format '$(REPO_URI) $(RELEASE) $(COMPONENT)' 2>/dev/null |
    awk -v rel="$debian_codename" '$2 == rel && $3 == "main" { print $1; exit }'
}

# debian_archive_uri: the repository URI the machine's apt uses for "$debian_codename main"
# (e.g. what /etc/apt/sources.list.d/*.sources says). Fails when apt has no such source.
debian_archive_uri() {
  local uri
  # apt lists index targets only for sources it has fetched: update once if none match.
  uri=$(debian_main_target) || true
  if [ -z "$uri" ]; then
    debian_apt_update
    uri=$(debian_main_target) || true
  fi
  [ -n "$uri" ] || { echo "debian: apt has no source for '$debian_codename main' (see /etc/apt/sources.list*)" >&2; return 1; }
  echo "${uri%/}"
}

# debian_ensure_backports: makes "$codename-backports main" an apt source, from the same
# archive as "$codename main", unless apt already has it. Runs `apt-get update` if it adds it.
debian_ensure_backports() {
  local bp="$debian_codename-backports" uri
  if apt-get indextargets --format '$(RELEASE)' 2>/dev/null | grep -qx "$bp"; then return 0; fi
  uri=$(debian_archive_uri) || return 1
  if apt-get indextargets --format '$(RELEASE)' 2>/dev/null | grep -qx "$bp"; then return 0; fi
  echo "debian: adding $bp from $uri (the archive apt uses for $debian_codename)" >&2
  printf 'Types: deb\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$uri" "$bp" | $debian_sudo tee "/etc/apt/sources.list.d/wasi-hw-$bp.sources" >/dev/null
  debian_apt_update
}

# debian_private_apt ARCH DIR: sets the array debian_apt_opts to an apt state under DIR that
# lists only "$codename main" for ARCH, from the machine's own archive. The machine's apt
# setup is not touched (no `dpkg --add-architecture`), and an index of another suite that
# is momentarily inconsistent on the mirror cannot break a download. The index is refreshed
# when it is older than a day or when FORCE_UPDATE=1.
debian_apt_opts=()
debian_private_apt() {
  local arch=$1 st=$2 uri
  mkdir -p "$st/lists/partial" "$st/archives/partial"
  # Written each time: it follows the machine's configuration if that changes.
  uri=$(debian_archive_uri) || return 1
  echo "deb [arch=$arch signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri $debian_codename main" > "$st/sources.list"
  [ -f "$st/status" ] || : > "$st/status"
  debian_apt_opts=(-o "Dir::Etc::SourceList=$st/sources.list" -o Dir::Etc::SourceParts=/nonexistent
    -o "Dir::State::Lists=$st/lists" -o "Dir::Cache=$st" -o "Dir::State::status=$st/status"
    -o "APT::Architecture=$arch" -o "APT::Architectures::=$arch" -o APT::Sandbox::User=root)
  if [ "${FORCE_UPDATE:-0}" = 1 ] || [ -z "$(find "$st/lists" -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null)" ]; then
    apt-get "${debian_apt_opts[@]}" update -qq || echo "debian: warning: apt update for $arch failed, using the cached index" >&2
  fi
}
