//! SWAG proxy confs and samples: the first line is the file name, the rest the text.
#![no_main]
use infrastructor_parsers::swag_conf;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (name, body) = text.split_once('\n').unwrap_or(("x.subdomain.conf", &text));
    let _ = swag_conf::conf_name(name);
    let _ = swag_conf::header_version_date(body);
    let conf = swag_conf::parse_conf(name, body);
    let sample = swag_conf::parse_conf("x.subdomain.conf.sample", body);
    assert!(!swag_conf::version_older(&conf, &conf));
    assert!(
        !(swag_conf::version_older(&conf, &sample) && swag_conf::version_older(&sample, &conf))
    );
});
