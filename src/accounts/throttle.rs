//! The login throttle: counts failed logins per username and per client address,
//! in memory and bounded. After a few failures in a window each attempt is delayed;
//! after more it is refused (HTTP 429 with `Retry-After`) until the window passes
//! without failures.
//!
//! A success clears the username's count but not the address's, so an attacker
//! cannot reset their address by logging into an account of their own. IPv6
//! addresses are counted by /64, the block one host usually gets.
//!
//! A login: `check` (on `Err(retry)` answer 429 with `Retry-After`; on `Ok(delay)`
//! wait that long, asynchronously), verify the password, then `failure` or `success`.
//!
//! With the accounts in Redis ([`LoginThrottle::in_redis`]) the counters are there
//! too, so every node of a cluster counts the same failures (see
//! `throttle_redis.rs`); the calls then block (off the executor, as the account's).

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// When failures slow down and then stop further attempts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Failures after which each attempt is delayed.
    pub delay_after: u32,
    /// Failures after which attempts are refused.
    pub refuse_after: u32,
}

/// What the login throttle allows: failures per username and per address before
/// delays and refusals, the delays, and how long and how many it remembers.
#[derive(Clone, Debug)]
pub struct ThrottleConfig {
    /// Per username; default 5 then 10.
    pub per_user: Limits,
    /// Per client address; default 10 then 30 (several people may share one).
    pub per_ip: Limits,
    /// Failures are forgotten once this long has passed since the last one;
    /// default 15 minutes.
    pub window: Duration,
    /// The delay grows by this for each failure past `delay_after`; default 1 s.
    pub delay_step: Duration,
    /// The longest delay; default 5 s.
    pub max_delay: Duration,
    /// Usernames and addresses remembered, each; the oldest are forgotten first.
    /// Default 10 000.
    pub max_entries: usize,
}

impl Default for ThrottleConfig {
    fn default() -> ThrottleConfig {
        ThrottleConfig {
            per_user: Limits {
                delay_after: 5,
                refuse_after: 10,
            },
            per_ip: Limits {
                delay_after: 10,
                refuse_after: 30,
            },
            window: Duration::from_secs(15 * 60),
            delay_step: Duration::from_secs(1),
            max_delay: Duration::from_secs(5),
            max_entries: 10_000,
        }
    }
}

/// A refused attempt: answer 429 with `Retry-After: after_secs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retry {
    /// Seconds until an attempt may be made again.
    pub after_secs: u64,
}

type UserKey = [u8; 16];

/// The counters stay consistent even if a holder panicked.
fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

/// Failed-login counters. Safe to share between threads.
pub struct LoginThrottle {
    config: ThrottleConfig,
    clock: Box<dyn Fn() -> Instant + Send + Sync>,
    counts: Counts,
}

/// Where the counters are.
enum Counts {
    /// This process's memory, bounded by `max_entries`.
    Memory(Mutex<State>),
    /// Redis, shared by the nodes on it; bounded by the keys' expiry.
    #[cfg(feature = "redis")]
    Redis(std::sync::Arc<super::redis_users::RedisAccounts>),
}

#[derive(Default)]
struct State {
    users: Counters<UserKey>,
    ips: Counters<IpAddr>,
}

impl LoginThrottle {
    /// A throttle with no failures yet, on the monotonic clock.
    pub fn new(config: ThrottleConfig) -> LoginThrottle {
        LoginThrottle::with_clock(config, Instant::now)
    }

    /// A throttle reading the time from `clock` (for tests).
    pub fn with_clock(
        config: ThrottleConfig,
        clock: impl Fn() -> Instant + Send + Sync + 'static,
    ) -> LoginThrottle {
        LoginThrottle {
            config,
            clock: Box::new(clock),
            counts: Counts::Memory(Mutex::new(State::default())),
        }
    }

    /// A throttle whose counters are in the Redis the accounts are in, shared
    /// by every node on it. Its calls block: call them off the executor.
    #[cfg(feature = "redis")]
    pub fn in_redis(
        config: ThrottleConfig,
        accounts: std::sync::Arc<super::redis_users::RedisAccounts>,
    ) -> LoginThrottle {
        LoginThrottle {
            config,
            clock: Box::new(Instant::now),
            counts: Counts::Redis(accounts),
        }
    }

    /// Before checking a password: how long to wait before answering, or a refusal.
    pub fn check(&self, username: &str, ip: IpAddr) -> Result<Duration, Retry> {
        let (user, ip) = match &self.counts {
            Counts::Memory(state) => {
                let now = (self.clock)();
                let state = lock(state);
                let window = self.config.window;
                let left = |e: &Entry| {
                    let since = now.saturating_duration_since(e.last);
                    (e.failures, window.saturating_sub(since))
                };
                let user = state.users.live(&user_key(username), now, window);
                let ip = state.ips.live(&ip_key(ip), now, window);
                (user.map(left), ip.map(left))
            }
            #[cfg(feature = "redis")]
            Counts::Redis(redis) => match redis.throttle_counts(&user_key(username), ip_key(ip)) {
                Ok(counts) => counts,
                // The password check still stands; the store logs nothing here.
                Err(err) => {
                    log::warn!("login throttle: counters in redis unreadable: {err}");
                    (None, None)
                }
            },
        };
        let user = self.verdict(self.config.per_user, user)?;
        let ip = self.verdict(self.config.per_ip, ip)?;
        Ok(user.max(ip))
    }

    /// After a wrong password (or unknown user).
    pub fn failure(&self, username: &str, ip: IpAddr) {
        match &self.counts {
            Counts::Memory(state) => {
                let now = (self.clock)();
                let mut state = lock(state);
                let (window, cap) = (self.config.window, self.config.max_entries);
                state.users.record(user_key(username), now, window, cap);
                state.ips.record(ip_key(ip), now, window, cap);
            }
            #[cfg(feature = "redis")]
            Counts::Redis(redis) => {
                let counted =
                    redis.throttle_failure(&user_key(username), ip_key(ip), self.config.window);
                if let Err(err) = counted {
                    log::warn!("login throttle: a failure not counted in redis: {err}");
                }
            }
        }
    }

    /// After a successful login: the username's failures are forgotten.
    pub fn success(&self, username: &str, _ip: IpAddr) {
        match &self.counts {
            Counts::Memory(state) => {
                lock(state).users.map.remove(&user_key(username));
            }
            #[cfg(feature = "redis")]
            Counts::Redis(redis) => {
                if let Err(err) = redis.throttle_success(&user_key(username)) {
                    log::warn!("login throttle: failures not cleared in redis: {err}");
                }
            }
        }
    }

    /// The verdict on `entry`: its failures, and how long until they are forgotten.
    fn verdict(&self, limits: Limits, entry: Option<(u32, Duration)>) -> Result<Duration, Retry> {
        let Some((failures, left)) = entry else {
            return Ok(Duration::ZERO);
        };
        if failures >= limits.refuse_after {
            let after_secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
            return Err(Retry {
                after_secs: after_secs.max(1),
            });
        }
        if failures >= limits.delay_after {
            let steps = failures - limits.delay_after + 1;
            return Ok(self
                .config
                .delay_step
                .saturating_mul(steps)
                .min(self.config.max_delay));
        }
        Ok(Duration::ZERO)
    }
}

/// A fixed-size key, so long usernames cost no more memory than short ones.
fn user_key(username: &str) -> UserKey {
    let hash = blake3::hash(username.as_bytes());
    let mut key = [0u8; 16];
    key.copy_from_slice(&hash.as_bytes()[..16]);
    key
}

/// IPv4 (also when mapped into IPv6) as is; IPv6 by its /64.
fn ip_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(bits.into())
        }
        v4 => v4,
    }
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    failures: u32,
    last: Instant,
}

struct Counters<K> {
    map: HashMap<K, Entry>,
}

impl<K> Default for Counters<K> {
    fn default() -> Counters<K> {
        Counters {
            map: HashMap::new(),
        }
    }
}

impl<K: Hash + Eq + Copy> Counters<K> {
    fn live(&self, key: &K, now: Instant, window: Duration) -> Option<&Entry> {
        self.map
            .get(key)
            .filter(|e| now.saturating_duration_since(e.last) <= window)
    }

    fn record(&mut self, key: K, now: Instant, window: Duration, cap: usize) {
        if !self.map.contains_key(&key) && self.map.len() >= cap {
            self.map
                .retain(|_, e| now.saturating_duration_since(e.last) <= window);
            if self.map.len() >= cap {
                let oldest = self.map.iter().min_by_key(|(_, e)| e.last).map(|(k, _)| *k);
                if let Some(oldest) = oldest {
                    self.map.remove(&oldest);
                }
            }
        }
        let entry = self.map.entry(key).or_insert(Entry {
            failures: 0,
            last: now,
        });
        if now.saturating_duration_since(entry.last) > window {
            entry.failures = 0;
        }
        entry.failures = entry.failures.saturating_add(1);
        entry.last = entry.last.max(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// A throttle with a clock the test moves by hand.
    fn throttle(config: ThrottleConfig) -> (LoginThrottle, Arc<Mutex<Instant>>) {
        let now = Arc::new(Mutex::new(Instant::now()));
        let clock = now.clone();
        let throttle = LoginThrottle::with_clock(config, move || *clock.lock().unwrap());
        (throttle, now)
    }

    /// The counters of a throttle in memory.
    fn memory(throttle: &LoginThrottle) -> MutexGuard<'_, State> {
        match &throttle.counts {
            Counts::Memory(state) => lock(state),
            #[cfg(feature = "redis")]
            Counts::Redis(_) => panic!("counters in redis"),
        }
    }

    fn advance(now: &Mutex<Instant>, by: Duration) {
        *now.lock().unwrap() += by;
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn delays_then_refuses_a_username() {
        let (throttle, now) = throttle(ThrottleConfig::default());
        // Different addresses, so only the username counts.
        let addr = |i: u8| IpAddr::from([10, 0, 0, i]);
        for i in 0..5 {
            assert_eq!(throttle.check("ann", addr(i)), Ok(Duration::ZERO));
            throttle.failure("ann", addr(i));
        }
        for (i, secs) in [(5, 1), (6, 2), (7, 3), (8, 4), (9, 5)] {
            assert_eq!(
                throttle.check("ann", addr(i)),
                Ok(Duration::from_secs(secs))
            );
            throttle.failure("ann", addr(i));
        }
        assert_eq!(
            throttle.check("ann", addr(99)),
            Err(Retry { after_secs: 900 })
        );
        // Another username from the same addresses is not affected.
        assert_eq!(throttle.check("bob", addr(1)), Ok(Duration::ZERO));
        advance(&now, Duration::from_secs(600) + Duration::from_millis(1));
        assert_eq!(
            throttle.check("ann", addr(99)),
            Err(Retry { after_secs: 300 })
        );
        advance(&now, Duration::from_secs(300));
        assert_eq!(throttle.check("ann", addr(99)), Ok(Duration::ZERO));
        // Counting starts over.
        throttle.failure("ann", addr(1));
        assert_eq!(throttle.check("ann", addr(1)), Ok(Duration::ZERO));
    }

    #[test]
    fn delays_then_refuses_an_address() {
        let (throttle, _now) = throttle(ThrottleConfig::default());
        let attacker = ip("192.0.2.7");
        for i in 0..30 {
            let user = format!("user{i}");
            assert!(throttle.check(&user, attacker).is_ok());
            throttle.failure(&user, attacker);
        }
        assert!(matches!(
            throttle.check("fresh", attacker),
            Err(Retry { .. })
        ));
        assert_eq!(throttle.check("fresh", ip("192.0.2.8")), Ok(Duration::ZERO));
    }

    #[test]
    fn success_clears_the_username_but_not_the_address() {
        let (throttle, _now) = throttle(ThrottleConfig::default());
        let addr = ip("192.0.2.7");
        for _ in 0..10 {
            throttle.failure("ann", addr);
        }
        assert!(throttle.check("ann", addr).is_err());
        throttle.success("ann", addr);
        // The address has 10 failures: at its delay threshold.
        assert_eq!(throttle.check("ann", addr), Ok(Duration::from_secs(1)));
        assert_eq!(throttle.check("ann", ip("192.0.2.8")), Ok(Duration::ZERO));
    }

    #[test]
    fn ipv6_counts_by_prefix_and_mapped_ipv4_as_ipv4() {
        let config = ThrottleConfig {
            per_user: Limits {
                delay_after: 100,
                refuse_after: 100,
            },
            per_ip: Limits {
                delay_after: 1,
                refuse_after: 2,
            },
            ..ThrottleConfig::default()
        };
        let (throttle, _now) = throttle(config);
        throttle.failure("a", ip("2001:db8::1"));
        throttle.failure("b", ip("2001:db8::ffff:2"));
        assert!(throttle.check("c", ip("2001:db8::3")).is_err());
        assert!(throttle.check("c", ip("2001:db8:0:1::3")).is_ok());
        throttle.failure("a", ip("::ffff:192.0.2.1"));
        throttle.failure("a", ip("192.0.2.1"));
        assert!(throttle.check("c", ip("192.0.2.1")).is_err());
    }

    #[test]
    fn memory_is_bounded_and_oldest_go_first() {
        let config = ThrottleConfig {
            max_entries: 100,
            ..ThrottleConfig::default()
        };
        let (throttle, now) = throttle(config);
        let addr = |i: u32| IpAddr::from(i.to_be_bytes());
        for _ in 0..10 {
            throttle.failure("victim", addr(0));
        }
        advance(&now, Duration::from_millis(1));
        for i in 1..1000u32 {
            throttle.failure(&format!("name{i}"), addr(i));
            advance(&now, Duration::from_millis(1));
        }
        let state = memory(&throttle);
        assert!(state.users.map.len() <= 100 && state.ips.map.len() <= 100);
        drop(state);
        // The oldest entry was dropped, the newest kept.
        assert_eq!(throttle.check("victim", addr(5000)), Ok(Duration::ZERO));
        throttle.failure("name999", addr(999));
        let state = memory(&throttle);
        assert_eq!(state.users.map[&user_key("name999")].failures, 2);
    }

    #[test]
    fn long_usernames_cost_a_fixed_size_key() {
        let (throttle, _now) = throttle(ThrottleConfig::default());
        let long = "x".repeat(100_000);
        for _ in 0..10 {
            throttle.failure(&long, ip("192.0.2.9"));
        }
        assert!(throttle.check(&long, ip("198.51.100.1")).is_err());
    }

    #[test]
    fn shared_between_threads() {
        let throttle = Arc::new(LoginThrottle::new(ThrottleConfig::default()));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let throttle = throttle.clone();
                std::thread::spawn(move || {
                    for _ in 0..5 {
                        throttle.failure("ann", ip("192.0.2.1"));
                    }
                })
            })
            .collect();
        handles.into_iter().for_each(|h| h.join().unwrap());
        assert!(throttle.check("ann", ip("192.0.2.2")).is_err());
    }

    /// Two nodes' throttles on one Redis count the same failures.
    #[cfg(feature = "redis")]
    #[test]
    fn in_redis_every_node_counts_the_same_failures() {
        use crate::accounts::RedisAccounts;
        use crate::session::TestRedis;

        let Some(redis) = TestRedis::start("throttle-redis") else {
            return;
        };
        let config = ThrottleConfig {
            per_user: Limits {
                delay_after: 2,
                refuse_after: 4,
            },
            per_ip: Limits {
                delay_after: 5,
                refuse_after: 6,
            },
            window: Duration::from_secs(60),
            ..ThrottleConfig::default()
        };
        let node = || {
            let accounts = RedisAccounts::open(&redis.url, "sessio:").unwrap();
            LoginThrottle::in_redis(config.clone(), Arc::new(accounts))
        };
        let (a, b) = (node(), node());
        // Different addresses, so only the username counts.
        assert_eq!(a.check("ann", ip("192.0.2.1")), Ok(Duration::ZERO));
        a.failure("ann", ip("192.0.2.1"));
        b.failure("ann", ip("192.0.2.2"));
        assert_eq!(b.check("ann", ip("192.0.2.3")), Ok(Duration::from_secs(1)));
        a.failure("ann", ip("192.0.2.4"));
        assert_eq!(b.check("ann", ip("192.0.2.5")), Ok(Duration::from_secs(2)));
        b.failure("ann", ip("192.0.2.6"));
        let retry = a.check("ann", ip("192.0.2.7")).unwrap_err();
        assert!((59..=60).contains(&retry.after_secs), "{retry:?}");
        // Another name is not held back.
        assert_eq!(a.check("bob", ip("192.0.2.8")), Ok(Duration::ZERO));
        // A success on one node clears the name on the other.
        b.success("ann", ip("192.0.2.9"));
        assert_eq!(a.check("ann", ip("192.0.2.10")), Ok(Duration::ZERO));

        // One address, many names, on both nodes: the address is counted.
        for i in 0..6 {
            let node = if i % 2 == 0 { &a } else { &b };
            node.failure(&format!("name{i}"), ip("2001:db8::1"));
        }
        assert!(b.check("carol", ip("2001:db8::2")).is_err(), "the same /64");
        assert_eq!(b.check("carol", ip("2001:db8:1::1")), Ok(Duration::ZERO));

        // The counters expire a window after the last failure.
        let mut con = redis::Client::open(redis.url.as_str())
            .unwrap()
            .get_connection()
            .unwrap();
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg("sessio:throttle:*")
            .query(&mut con)
            .unwrap();
        // name0..name5, the four addresses ann failed from, the /64; ann's was cleared.
        assert_eq!(keys.len(), 6 + 4 + 1, "{keys:?}");
        assert!(keys.contains(&"sessio:throttle:ip:2001:db8::".to_owned()));
        for key in keys {
            let ttl: i64 = redis::cmd("PTTL").arg(&key).query(&mut con).unwrap();
            assert!(ttl > 0 && ttl <= 60_000, "{key}: {ttl}");
        }
    }
}
