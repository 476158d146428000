//! SWAG subdomain confs for the published services: SWAG reaches a service through the
//! device (`upstream_app`) on the host port the service publishes, as it is after the port
//! transform. Services with `network_mode` (nothing published) get none.

use super::ports::{PortSpec, current_specs};
use super::yaml::Service;
use super::{ProxyConfig, Run};
use crate::swag;

/// Container ports that speak HTTPS, so the upstream protocol is `https`.
const HTTPS_CONTAINER_PORTS: [u16; 3] = [443, 8443, 9443];

/// Container ports of web front ends, preferred over a service's other ports.
const WEB_CONTAINER_PORTS: [u16; 4] = [80, 443, 8080, 8443];

/// Well-known container ports that are not HTTP (DNS, SSH, mail, databases, brokers): never
/// proxied.
const NON_HTTP_CONTAINER_PORTS: [u16; 20] = [
    21, 22, 23, 25, 53, 67, 110, 143, 389, 465, 587, 636, 993, 995, 1883, 3306, 5432, 6379, 11211,
    27017,
];

/// The (host port, container port) SWAG should proxy to: among the single TCP ports
/// published on an address SWAG can reach (not loopback) whose container port is not a
/// well-known non-HTTP one, the first with a web container port (80, 443, 8080, 8443), else
/// the first.
fn proxied_port(specs: &[PortSpec]) -> Option<(u16, u16)> {
    let candidates: Vec<(u16, u16)> = specs
        .iter()
        .filter_map(|spec| {
            let host = spec.host.filter(|h| h.is_single() && h.start != 0)?;
            let loopback = spec.host_ip.as_deref().is_some_and(|ip| {
                ip.starts_with("127.") || ip == "[::1]" || ip.eq_ignore_ascii_case("localhost")
            });
            let container = spec.container.start;
            (spec.protocol() == "tcp"
                && spec.container.is_single()
                && !loopback
                && !NON_HTTP_CONTAINER_PORTS.contains(&container))
            .then_some((host.start, container))
        })
        .collect();
    candidates
        .iter()
        .find(|(_, container)| WEB_CONTAINER_PORTS.contains(container))
        .or(candidates.first())
        .copied()
}

/// Generates a conf for each selected service that publishes a TCP port.
pub(crate) fn apply(services: &[Service], run: &mut Run) {
    let upstream_app = run.opts.upstream_app.clone();
    if upstream_app.is_empty() {
        run.warn("no upstream_app (device address) given; proxy confs not generated".to_string());
        return;
    }
    let opts = run.opts;
    for service in services.iter().filter(|s| opts.selects(&s.name)) {
        if service.plain.get("network_mode").is_some() {
            continue;
        }
        let Some((host_port, container_port)) = proxied_port(&current_specs(service)) else {
            continue;
        };
        let proto = if HTTPS_CONTAINER_PORTS.contains(&container_port) {
            "https"
        } else {
            "http"
        };
        match swag::subdomain_conf(&service.name, &upstream_app, host_port, proto) {
            Ok(content) => run.outcome.proxy_configs.push(ProxyConfig {
                service: service.name.clone(),
                filename: swag::subdomain_filename(&service.name),
                upstream_app: upstream_app.clone(),
                upstream_port: host_port,
                content,
            }),
            Err(e) => run.warn(format!("{}: no proxy conf: {e}", service.name)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn specs(texts: &[&str]) -> Vec<PortSpec> {
        texts
            .iter()
            .map(|t| PortSpec::parse(t).expect("spec"))
            .collect()
    }

    #[test]
    fn a_reachable_web_port_is_proxied() {
        assert_eq!(
            proxied_port(&specs(&["8001:80", "8002:443"])),
            Some((8001, 80))
        );
        assert_eq!(
            proxied_port(&specs(&["53:53/udp", "127.0.0.1:8001:80", "8002:443/tcp"])),
            Some((8002, 443))
        );
        // pihole: DNS first, the web UI later.
        assert_eq!(
            proxied_port(&specs(&[
                "8003:53/tcp",
                "8003:53/udp",
                "8004:67/udp",
                "8005:80/tcp"
            ])),
            Some((8005, 80))
        );
        assert_eq!(
            proxied_port(&specs(&["8010:9000", "8011:80"])),
            Some((8011, 80))
        );
        assert_eq!(
            proxied_port(&specs(&["8010:9000", "8011:9001"])),
            Some((8010, 9000))
        );
        assert_eq!(proxied_port(&specs(&["8012:5432"])), None);
        assert_eq!(proxied_port(&specs(&["80", "8000-8001:80-81"])), None);
        assert_eq!(proxied_port(&[]), None);
    }
}
