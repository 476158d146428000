//! nginx configuration files.
#![no_main]
use infrastructor_parsers::nginx_conf;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let conf = nginx_conf::parse_nginx_conf(&text);
    let lines = text.split('\n').count();
    for d in nginx_conf::flatten(&conf.directives) {
        assert!(d.line >= 1 && d.line <= lines);
    }
});
