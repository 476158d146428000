//! `/proc/net/dev`: per-interface counters.

use serde::Serialize;

use super::ParseError;

const CMD: &str = "/proc/net/dev";

/// The counters of one interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NetDev {
    /// Interface name.
    pub interface: String,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Packets received.
    pub rx_packets: u64,
    /// Receive errors.
    pub rx_errs: u64,
    /// Received packets dropped.
    pub rx_drop: u64,
    /// Receive FIFO errors.
    pub rx_fifo: u64,
    /// Receive framing errors.
    pub rx_frame: u64,
    /// Compressed packets received.
    pub rx_compressed: u64,
    /// Multicast packets received.
    pub rx_multicast: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
    /// Packets sent.
    pub tx_packets: u64,
    /// Send errors.
    pub tx_errs: u64,
    /// Packets dropped on send.
    pub tx_drop: u64,
    /// Send FIFO errors.
    pub tx_fifo: u64,
    /// Collisions.
    pub tx_colls: u64,
    /// Carrier losses.
    pub tx_carrier: u64,
    /// Compressed packets sent.
    pub tx_compressed: u64,
}

/// Parses `/proc/net/dev`; the two header lines (`Inter-|   Receive …` and
/// ` face |bytes …`) are skipped.
pub fn parse_net_dev(text: &str) -> Result<Vec<NetDev>, ParseError> {
    let mut out = Vec::new();
    let mut headers = 0;
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        if line.contains('|') {
            headers += 1;
            continue;
        }
        let (name, rest) = line
            .split_once(':')
            .ok_or_else(|| ParseError::at(CMD, line_no, "expected `interface: counters`"))?;
        let name = name.trim();
        if name.is_empty() || name.contains(char::is_whitespace) {
            return Err(ParseError::at(
                CMD,
                line_no,
                format!("bad interface name `{name}`"),
            ));
        }
        let n: Vec<u64> = rest
            .split_whitespace()
            .map(|w| {
                w.parse().map_err(|_| {
                    ParseError::at(CMD, line_no, format!("`{name}`: `{w}` is not a counter"))
                })
            })
            .collect::<Result<_, _>>()?;
        if n.len() != 16 {
            return Err(ParseError::at(
                CMD,
                line_no,
                format!("`{name}` has {} counters, expected 16", n.len()),
            ));
        }
        out.push(NetDev {
            interface: name.to_string(),
            rx_bytes: n[0],
            rx_packets: n[1],
            rx_errs: n[2],
            rx_drop: n[3],
            rx_fifo: n[4],
            rx_frame: n[5],
            rx_compressed: n[6],
            rx_multicast: n[7],
            tx_bytes: n[8],
            tx_packets: n[9],
            tx_errs: n[10],
            tx_drop: n[11],
            tx_fifo: n[12],
            tx_colls: n[13],
            tx_carrier: n[14],
            tx_compressed: n[15],
        });
    }
    if out.is_empty() && headers == 0 {
        return Err(ParseError::new(CMD, "empty output"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `cat /proc/net/dev` on a Debian 12 VM (no fixture in tests/fixtures has this file). The
    /// second interface shows the old kernel's layout with no space after the colon.
    const SAMPLE: &str = "Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo: 2776770   11307    0    0    0     0          0         0  2776770   11307    0    0    0     0       0          0
  eth0:1215645 2751 1 2 3 4 5 6 1782404 4324 7 8 9 10 11 12
docker0:       0       0    0    0    0     0          0         0        0       0    0    5    0     0       0          0
";

    #[test]
    fn sample() {
        let d = parse_net_dev(SAMPLE).expect("net/dev");
        assert_eq!(d.len(), 3);
        assert_eq!(d[0].interface, "lo");
        assert_eq!(d[0].rx_bytes, 2_776_770);
        assert_eq!(d[1].interface, "eth0");
        assert_eq!(
            (d[1].rx_bytes, d[1].rx_errs, d[1].rx_drop, d[1].rx_multicast),
            (1_215_645, 1, 2, 6)
        );
        assert_eq!(
            (
                d[1].tx_bytes,
                d[1].tx_packets,
                d[1].tx_drop,
                d[1].tx_compressed
            ),
            (1_782_404, 4324, 8, 12)
        );
        assert_eq!(d[2].tx_drop, 5);
        // Only the headers: no interfaces, understood.
        let headers: String = SAMPLE.lines().take(2).map(|l| format!("{l}\n")).collect();
        assert!(parse_net_dev(&headers).expect("headers").is_empty());
    }

    #[test]
    fn odd_input() {
        assert!(parse_net_dev("").is_err());
        assert!(parse_net_dev("eth0: 1 2 3\n").is_err());
        assert!(parse_net_dev("garbage\n").is_err());
        let e = parse_net_dev("eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 x\n").expect_err("x");
        assert_eq!(
            e.to_string(),
            "/proc/net/dev: line 1: `eth0`: `x` is not a counter"
        );
    }
}
