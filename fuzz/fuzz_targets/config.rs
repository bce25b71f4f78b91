#![no_main]
// The binary's configuration, mounted as src/bin/sessio/main.rs mounts it (with the
// logger, whose level parser it uses); the body and its properties:
// src/bin/sessio/fuzzing/config.rs. Not every item of the mounted modules is used here.
#![allow(dead_code)]

#[path = "../../src/bin/sessio/config/mod.rs"]
mod config;
#[path = "../../src/bin/sessio/fuzzing/config.rs"]
mod fuzzing;
#[path = "../../src/bin/sessio/logger.rs"]
mod logger;

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzzing::config(data));
