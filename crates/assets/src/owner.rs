//! Whom the mounted files appear to belong to: the web server's user.

/// A uid and gid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Owner {
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
}

/// www-data's uid and gid when that user exists (read from /etc/passwd),
/// else this process's.
pub fn web_server_owner() -> Owner {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    user_in_passwd(&passwd, crate::WEB_SERVER_USER).unwrap_or_else(|| {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        Owner {
            uid: field("Uid:"),
            gid: field("Gid:"),
        }
    })
}

/// `user`'s uid and gid in passwd(5) text.
fn user_in_passwd(passwd: &str, user: &str) -> Option<Owner> {
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        if f.first() != Some(&user) || f.len() < 4 {
            return None;
        }
        Some(Owner {
            uid: f[2].parse().ok()?,
            gid: f[3].parse().ok()?,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_user_and_skips_malformed_lines() {
        let passwd =
            "root:x:0:0:root:/root:/bin/bash\nwww-data:x:33\nwww-data:x:33:34:www:/var/www:/usr/sbin/nologin\n";
        assert_eq!(user_in_passwd(passwd, "www-data"), Some(Owner { uid: 33, gid: 34 }));
        assert_eq!(user_in_passwd(passwd, "nobody"), None);
    }
}
