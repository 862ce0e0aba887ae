//! `libusb-error` (wasi:usb/errors) and the mapping from OS errors.

use std::fmt;

/// The 13 cases of `libusb-error`, with their canonical-ABI discriminants (declaration order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum UsbError {
    Io = 0,
    InvalidParam = 1,
    Access = 2,
    NoDevice = 3,
    NotFound = 4,
    Busy = 5,
    Timeout = 6,
    Overflow = 7,
    Pipe = 8,
    Interrupted = 9,
    NoMem = 10,
    NotSupported = 11,
    Other = 12,
}

impl UsbError {
    /// The enum discriminant stored by the canonical ABI.
    pub fn discriminant(self) -> u8 {
        self as u8
    }

    /// The case with canonical-ABI discriminant `d`.
    pub fn from_discriminant(d: u8) -> Option<UsbError> {
        use UsbError::*;
        [
            Io,
            InvalidParam,
            Access,
            NoDevice,
            NotFound,
            Busy,
            Timeout,
            Overflow,
            Pipe,
            Interrupted,
            NoMem,
            NotSupported,
            Other,
        ]
        .get(usize::from(d))
        .copied()
    }

    /// The libusb error code this case stands for (LIBUSB_ERROR_*).
    pub fn libusb_code(self) -> i32 {
        match self {
            UsbError::Other => -99,
            e => -(e as i32) - 1,
        }
    }

    /// The WIT name of the case.
    pub fn name(self) -> &'static str {
        match self {
            UsbError::Io => "io",
            UsbError::InvalidParam => "invalid-param",
            UsbError::Access => "access",
            UsbError::NoDevice => "no-device",
            UsbError::NotFound => "not-found",
            UsbError::Busy => "busy",
            UsbError::Timeout => "timeout",
            UsbError::Overflow => "overflow",
            UsbError::Pipe => "pipe",
            UsbError::Interrupted => "interrupted",
            UsbError::NoMem => "no-mem",
            UsbError::NotSupported => "not-supported",
            UsbError::Other => "other",
        }
    }

    /// Maps an errno the way libusb's Linux backend does (libc's constants: the numbers
    /// differ between architectures, e.g. MIPS).
    pub fn from_errno(errno: i32) -> UsbError {
        match errno {
            libc::EPERM | libc::EACCES => UsbError::Access,
            libc::ENOENT => UsbError::NotFound,
            // ENODATA: detaching an interface that has no kernel driver (libusb: NOT_FOUND).
            libc::ENODATA => UsbError::NotFound,
            libc::EINTR => UsbError::Interrupted,
            libc::EIO | libc::EPROTO | libc::EILSEQ | libc::ECOMM => UsbError::Io,
            libc::ENOMEM => UsbError::NoMem,
            libc::EBUSY => UsbError::Busy,
            libc::ENODEV | libc::ESHUTDOWN => UsbError::NoDevice,
            libc::EINVAL => UsbError::InvalidParam,
            libc::EPIPE => UsbError::Pipe,
            libc::EOVERFLOW => UsbError::Overflow,
            libc::EOPNOTSUPP | libc::ENOSYS => UsbError::NotSupported,
            libc::ETIMEDOUT | libc::ETIME => UsbError::Timeout,
            _ => UsbError::Other,
        }
    }

    /// Maps a std I/O error (errno if present, else its kind).
    pub fn from_io(e: &std::io::Error) -> UsbError {
        if let Some(errno) = e.raw_os_error() {
            return UsbError::from_errno(errno);
        }
        use std::io::ErrorKind as K;
        match e.kind() {
            K::NotFound => UsbError::NotFound,
            K::PermissionDenied => UsbError::Access,
            K::TimedOut => UsbError::Timeout,
            K::Interrupted => UsbError::Interrupted,
            K::InvalidInput => UsbError::InvalidParam,
            K::Unsupported => UsbError::NotSupported,
            K::OutOfMemory => UsbError::NoMem,
            K::NotConnected => UsbError::NoDevice,
            _ => UsbError::Io,
        }
    }
}

impl fmt::Display for UsbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::error::Error for UsbError {}

pub type UsbResult<T> = Result<T, UsbError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discriminants_round_trip() {
        for d in 0..13u8 {
            assert_eq!(UsbError::from_discriminant(d).unwrap().discriminant(), d);
        }
        assert_eq!(UsbError::from_discriminant(13), None);
    }

    #[test]
    fn libusb_codes() {
        assert_eq!(UsbError::Io.libusb_code(), -1);
        assert_eq!(UsbError::NoDevice.libusb_code(), -4);
        assert_eq!(UsbError::NotSupported.libusb_code(), -12);
        assert_eq!(UsbError::Other.libusb_code(), -99);
    }

    #[test]
    fn errno_mapping_follows_libusb() {
        assert_eq!(UsbError::from_errno(libc::ENODEV), UsbError::NoDevice);
        assert_eq!(UsbError::from_errno(libc::EACCES), UsbError::Access);
        assert_eq!(UsbError::from_errno(libc::EBUSY), UsbError::Busy);
        assert_eq!(UsbError::from_errno(libc::ETIMEDOUT), UsbError::Timeout);
        assert_eq!(UsbError::from_errno(libc::EPIPE), UsbError::Pipe);
        assert_eq!(UsbError::from_errno(libc::ENOENT), UsbError::NotFound);
        assert_eq!(UsbError::from_errno(libc::EOVERFLOW), UsbError::Overflow);
        assert_eq!(UsbError::from_errno(libc::ENOMEM), UsbError::NoMem);
        assert_eq!(UsbError::from_errno(9999), UsbError::Other);
        let e = std::io::Error::from_raw_os_error(libc::ENODEV);
        assert_eq!(UsbError::from_io(&e), UsbError::NoDevice);
        let e = std::io::Error::new(std::io::ErrorKind::TimedOut, "x");
        assert_eq!(UsbError::from_io(&e), UsbError::Timeout);
    }
}
