//! Counts in messages: "1 virtual server", "2 virtual servers".

/// `n` with the word that fits it.
pub fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

impl crate::keepalived::Keepalived {
    /// What it holds, for messages: `1 virtual server, 2 VRRP instances`.
    pub fn summary(&self) -> String {
        format!(
            "{}, {}",
            count(
                self.virtual_servers.len(),
                "virtual server",
                "virtual servers"
            ),
            count(self.vrrp_instances.len(), "VRRP instance", "VRRP instances")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_take_the_word_that_fits() {
        assert_eq!(
            count(1, "virtual server", "virtual servers"),
            "1 virtual server"
        );
        assert_eq!(
            count(0, "virtual server", "virtual servers"),
            "0 virtual servers"
        );
        assert_eq!(count(2, "error", "errors"), "2 errors");
        let mut k = crate::keepalived::Keepalived::default();
        assert_eq!(k.summary(), "0 virtual servers, 0 VRRP instances");
        k.vrrp_instances
            .push(crate::keepalived::VrrpInstance::new("V"));
        assert_eq!(k.summary(), "0 virtual servers, 1 VRRP instance");
    }
}
