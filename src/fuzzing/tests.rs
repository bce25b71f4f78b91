//! The fuzz targets as a bounded property test on stable: each runs over its seeds in
//! `fuzz/corpus/<target>/` and 20,000 seeded mutations of them (bit flips,
//! byte changes, insertions, deletions, splices, truncations, random bytes).
//! `SESSIO_FUZZ_SEED` and `SESSIO_FUZZ_CASES` change the seed and the count; a failing
//! case prints the seed and the case number to repeat it. The binary's fuzzing module
//! (`src/bin/sessio/fuzzing/`) mounts this file too, for its own `TARGETS`.

use std::path::PathBuf;

use super::TARGETS;

const DEFAULT_SEED: u64 = 0x5e55_10f0_2251_0001;
const DEFAULT_CASES: usize = 20_000;

/// xorshift64*: small, fast and enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn byte(&mut self) -> u8 {
        // Half the time one of the bytes the parsers split on.
        const SPECIAL: &[u8] = b"\x00\x1e\xff/.%,;=-\"[]{}0123456789\r\nb";
        if self.next() & 1 == 0 {
            SPECIAL[self.below(SPECIAL.len())]
        } else {
            self.next() as u8
        }
    }
}

fn mutate(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut data = seeds[rng.below(seeds.len())].clone();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(data.len() + 1);
        match rng.below(8) {
            0 if !data.is_empty() => {
                let i = at.min(data.len() - 1);
                data[i] ^= 1 << rng.below(8);
            }
            1 if !data.is_empty() => {
                let i = at.min(data.len() - 1);
                data[i] = rng.byte();
            }
            2 => {
                let bytes: Vec<u8> = (0..1 + rng.below(8)).map(|_| rng.byte()).collect();
                data.splice(at..at, bytes);
            }
            3 => {
                let end = (at + 1 + rng.below(8)).min(data.len());
                data.drain(at.min(end)..end);
            }
            4 => {
                let other = &seeds[rng.below(seeds.len())];
                let from = rng.below(other.len() + 1);
                data.truncate(at);
                data.extend_from_slice(&other[from..]);
            }
            5 => data.truncate(at),
            6 => {
                let end = (at + 1 + rng.below(16)).min(data.len());
                let copy = data[at.min(end)..end].to_vec();
                data.splice(at..at, copy);
            }
            _ => data = (0..rng.below(64)).map(|_| rng.byte()).collect(),
        }
    }
    data
}

fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    let seeds: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    assert!(!seeds.is_empty(), "no seeds in {}", dir.display());
    seeds
}

fn env_number(name: &str) -> Option<u64> {
    let text = std::env::var(name).ok()?;
    let text = text.trim();
    match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

#[test]
fn every_target_holds_on_seeds_and_mutations() {
    let seed = env_number("SESSIO_FUZZ_SEED").unwrap_or(DEFAULT_SEED);
    let cases = env_number("SESSIO_FUZZ_CASES").map_or(DEFAULT_CASES, |n| n as usize);
    for (name, target) in TARGETS {
        let seeds = seeds(name);
        for (i, input) in seeds.iter().enumerate() {
            let run = std::panic::catch_unwind(|| target(input));
            assert!(run.is_ok(), "{name}: seed file {i} fails: {input:?}");
        }
        let mut rng = Rng(seed ^ name.len() as u64 ^ 0x9e37_79b9_7f4a_7c15);
        for case in 0..cases {
            let input = mutate(&mut rng, &seeds);
            let run = std::panic::catch_unwind(|| target(&input));
            assert!(
                run.is_ok(),
                "{name}: case {case} of SESSIO_FUZZ_SEED={seed:#x} fails on {:?}",
                String::from_utf8_lossy(&input)
            );
        }
    }
}

#[test]
fn every_target_has_a_fuzz_target_file() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/fuzz_targets");
    for (name, _) in TARGETS {
        let file = dir.join(format!("{name}.rs"));
        let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file:?}: {e}"));
        assert!(text.contains(&format!("fuzzing::{name}(data)")), "{file:?}");
    }
}
