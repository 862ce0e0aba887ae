//! The user and group the host switches to: `USER[:GROUP]`, each a name or a number.
//! Names are looked up in `/etc/passwd` and `/etc/group` themselves, not through NSS: the
//! gateway binary is static (glibc's NSS would need shared libraries at run time) and
//! OpenWrt has only those files anyway.

use std::fmt;
use std::str::FromStr;

use anyhow::{bail, Context, Result};

/// `USER[:GROUP]` as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSpec {
    pub user: String,
    pub group: Option<String>,
}

impl FromStr for UserSpec {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<UserSpec> {
        let (user, group) = match s.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (s, None),
        };
        let valid = |n: &str| {
            !n.is_empty()
                && n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
        };
        if !valid(user) || group.is_some_and(|g| !valid(g)) {
            bail!("user {s:?}: expected USER or USER:GROUP (names or numbers)");
        }
        Ok(UserSpec {
            user: user.to_string(),
            group: group.map(str::to_string),
        })
    }
}

/// Numeric ids to switch to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ids {
    /// The user's name, or its number if `/etc/passwd` does not list it.
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups: the groups `/etc/group` lists the user in (not with an
    /// explicit `:GROUP`, which means exactly that group).
    pub groups: Vec<u32>,
}

impl fmt::Display for Ids {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (uid {}, gid {}", self.name, self.uid, self.gid)?;
        if !self.groups.is_empty() {
            let g: Vec<String> = self.groups.iter().map(u32::to_string).collect();
            write!(f, ", groups {}", g.join(","))?;
        }
        write!(f, ")")
    }
}

/// One `name:password:id:...` line's name, id and (for /etc/passwd) primary group or (for
/// /etc/group) members.
fn entries(text: &str) -> impl Iterator<Item = (&str, u32, &str)> {
    text.lines().filter_map(|line| {
        let mut f = line.split(':');
        let name = f.next()?;
        let _password = f.next()?;
        let id = f.next()?.trim().parse().ok()?;
        let fourth = f.next().unwrap_or("");
        Some((name, id, fourth))
    })
}

impl UserSpec {
    /// Resolves against the system's `/etc/passwd` and `/etc/group`.
    pub fn resolve_system(&self) -> Result<Ids> {
        let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
        self.resolve(&read("/etc/passwd"), &read("/etc/group"))
            .with_context(|| format!("user {}", self))
    }

    /// Resolves against the given passwd and group file contents.
    pub fn resolve(&self, passwd: &str, group: &str) -> Result<Ids> {
        let known = entries(passwd)
            .find(|(n, id, _)| *n == self.user || self.user.parse::<u32>().is_ok_and(|u| u == *id));
        let (name, uid, primary) = match known {
            Some((n, id, gid)) => {
                let gid = gid.parse::<u32>().ok();
                (n.to_string(), id, gid)
            }
            None => match self.user.parse::<u32>() {
                Ok(uid) => (self.user.clone(), uid, None),
                Err(_) => bail!("no such user in /etc/passwd"),
            },
        };
        let lookup_group = |g: &str| -> Result<u32> {
            entries(group)
                .find(|(n, _, _)| *n == g)
                .map(|(_, id, _)| id)
                .or_else(|| g.parse().ok())
                .with_context(|| format!("no such group {g:?} in /etc/group"))
        };
        let (gid, groups) = match &self.group {
            Some(g) => (lookup_group(g)?, vec![]),
            None => {
                let gid = primary.with_context(|| {
                    format!("uid {uid} is not in /etc/passwd: give a group (USER:GROUP)")
                })?;
                let groups = entries(group)
                    .filter(|(_, id, members)| {
                        *id != gid && members.split(',').any(|m| m.trim() == name)
                    })
                    .map(|(_, id, _)| id)
                    .collect();
                (gid, groups)
            }
        };
        Ok(Ids {
            name,
            uid,
            gid,
            groups,
        })
    }
}

impl fmt::Display for UserSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.group {
            Some(g) => write!(f, "{}:{g}", self.user),
            None => write!(f, "{}", self.user),
        }
    }
}

fn last_os_error(what: &str) -> anyhow::Error {
    anyhow::Error::new(std::io::Error::last_os_error()).context(what.to_string())
}

/// Switches the whole process (every thread: glibc broadcasts set*id) to `ids`: groups
/// first, then the gid, then the uid, which ends root's rights. Checks afterwards that root
/// cannot be regained.
pub fn switch_to(ids: &Ids) -> Result<()> {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    if euid != 0 {
        // SAFETY: as above.
        let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
        if uid == ids.uid && euid == ids.uid && gid == ids.gid {
            return Ok(());
        }
        bail!("switching user needs root (running as uid {euid})");
    }
    let groups: Vec<libc::gid_t> = ids.groups.clone();
    // SAFETY: the pointer and length describe `groups`, alive for the call.
    if unsafe { libc::setgroups(groups.len() as _, groups.as_ptr()) } != 0 {
        return Err(last_os_error("setgroups"));
    }
    // SAFETY: setgid/setuid take plain integers.
    if unsafe { libc::setgid(ids.gid) } != 0 {
        return Err(last_os_error("setgid"));
    }
    // SAFETY: as above.
    if unsafe { libc::setuid(ids.uid) } != 0 {
        return Err(last_os_error("setuid"));
    }
    // SAFETY: as above; this must fail for a non-root uid.
    if ids.uid != 0 && unsafe { libc::setuid(0) } == 0 {
        bail!(
            "setuid(0) still succeeds after switching to uid {}",
            ids.uid
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/ash\n\
        nobody:*:65534:65534:nobody:/var:/bin/false\n\
        wasi-hw:x:401:401::/var/empty:/bin/false\n\
        broken line\n";
    const GROUP: &str = "root:x:0:\ni2c:x:120:wasi-hw,other\nwasi-hw:x:401:\n\
        nogroup:x:65534:\ndialout:x:20:other\n";

    fn resolve(s: &str) -> Result<Ids> {
        s.parse::<UserSpec>()?.resolve(PASSWD, GROUP)
    }

    #[test]
    fn names_and_numbers_resolve_with_the_users_groups() {
        let ids = resolve("wasi-hw").unwrap();
        assert_eq!(
            (ids.uid, ids.gid, ids.groups.clone()),
            (401, 401, vec![120])
        );
        assert_eq!(ids.to_string(), "wasi-hw (uid 401, gid 401, groups 120)");
        let ids = resolve("nobody:nogroup").unwrap();
        assert_eq!((ids.uid, ids.gid), (65534, 65534));
        assert!(
            ids.groups.is_empty(),
            "an explicit group means only that group"
        );
        assert_eq!(resolve("65534").unwrap().name, "nobody");
        let ids = resolve("1234:20").unwrap();
        assert_eq!((ids.name.as_str(), ids.uid, ids.gid), ("1234", 1234, 20));
    }

    #[test]
    fn unknown_or_malformed_users_are_clear_errors() {
        let err = |s: &str| format!("{:#}", resolve(s).unwrap_err());
        assert!(err("nosuch").contains("no such user"), "{}", err("nosuch"));
        assert!(err("wasi-hw:nosuch").contains("no such group \"nosuch\""));
        assert!(err("1234").contains("give a group"), "{}", err("1234"));
        for bad in ["", ":", "a:", ":b", "a b", "a:b:c", "../x"] {
            assert!(bad.parse::<UserSpec>().is_err(), "{bad:?} parsed");
        }
    }
}
