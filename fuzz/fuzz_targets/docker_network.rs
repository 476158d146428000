//! `docker network ls` and `docker network inspect`.
#![no_main]
use infrastructor_parsers::docker_network;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = docker_network::parse_network_ls(&text);
    let _ = docker_network::parse_network_inspect(&text);
});
