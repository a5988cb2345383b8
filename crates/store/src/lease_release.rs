//! Giving leased jobs back, one rule for every backend: a leased job whose unique key
//! already has a pending twin is dropped (the twin does the same work), and of several
//! leased jobs sharing a key only the oldest goes back to pending (an older run and its
//! newer twin may both be running when a process dies; only one may be pending). The
//! rest return to pending. A backend binds the condition's one parameter and runs the
//! two statements in one transaction.

/// Which leases a release returns.
#[derive(Debug, Clone, Copy)]
pub enum Leases<'a, T> {
    /// Those that ran out before this time (in the backend's stored form).
    ExpiredAt(T),
    /// Those of one owner.
    Owner(&'a str),
    /// Every one (start-up of the only process).
    All,
}

/// The two statements of a release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseSql {
    /// Deletes the leased jobs a twin already covers.
    pub drop: String,
    /// Returns the other leased jobs to pending.
    pub requeue: String,
}

impl<T> Leases<'_, T> {
    /// The condition on the jobs row aliased `a`; `param` is the backend's placeholder
    /// for the one parameter ([`Leases::ExpiredAt`]'s time, [`Leases::Owner`]'s owner).
    pub fn cond(&self, a: &str, param: &str) -> String {
        match self {
            Self::ExpiredAt(_) => format!("{a}.state = 'running' AND {a}.lease_until < {param}"),
            Self::Owner(_) => format!("{a}.state = 'running' AND {a}.lease_owner = {param}"),
            Self::All => format!("{a}.state = 'running'"),
        }
    }

    /// The release statements. `also(alias)` is a further condition a backend adds to
    /// the rows it touches (PostgreSQL: only rows no other transaction holds), or "".
    pub fn sql(&self, param: &str, also: impl Fn(&str) -> String) -> ReleaseSql {
        let also = |a: &str| match also(a) {
            s if s.is_empty() => String::new(),
            s => format!(" AND {s}"),
        };
        ReleaseSql {
            drop: format!(
                "DELETE FROM jobs AS j WHERE {}{} AND j.unique_key IS NOT NULL AND ( \
                   EXISTS (SELECT 1 FROM jobs p WHERE p.tenant_id = j.tenant_id \
                           AND p.unique_key = j.unique_key AND p.state = 'pending') \
                   OR EXISTS (SELECT 1 FROM jobs r WHERE r.tenant_id = j.tenant_id \
                           AND r.unique_key = j.unique_key AND {} AND r.id < j.id))",
                self.cond("j", param),
                also("j"),
                self.cond("r", param),
            ),
            requeue: format!(
                "UPDATE jobs AS j SET state = 'pending', lease_owner = NULL, lease_until = NULL \
                 WHERE {}{}",
                self.cond("j", param),
                also("j"),
            ),
        }
    }
}
