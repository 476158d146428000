//! `/proc/cpuinfo` (x86 and ARM layouts).

use std::collections::BTreeSet;

use serde::Serialize;

use super::ParseError;

const CMD: &str = "/proc/cpuinfo";

/// The CPU summary the device analysis stores.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CpuInfo {
    /// `model name`; on ARM without one, the core named from `CPU implementer`/`CPU part`
    /// (`ARM Cortex-A72`), else the board's `Model`/`Hardware`.
    pub model_name: Option<String>,
    /// `vendor_id` (`GenuineIntel`, `AuthenticAMD`), or the ARM implementer's name.
    pub vendor: Option<String>,
    /// Logical processors (`processor` entries).
    pub processors: u32,
    /// Physical cores: `cpu cores` summed over distinct `physical id`s (x86 only).
    pub cores: Option<u32>,
    /// Distinct `physical id`s (sockets; x86 only).
    pub sockets: Option<u32>,
    /// ARM `Hardware` line (SoC: `BCM2835`).
    pub hardware: Option<String>,
    /// ARM/Raspberry Pi `Model` line (`Raspberry Pi 4 Model B Rev 1.4`).
    pub board_model: Option<String>,
    /// ARM `CPU implementer` (`0x41`).
    pub cpu_implementer: Option<String>,
    /// ARM `CPU part` (`0xd08`).
    pub cpu_part: Option<String>,
}

fn arm_implementer(code: &str) -> Option<&'static str> {
    Some(match code {
        "0x41" => "ARM",
        "0x42" => "Broadcom",
        "0x43" => "Cavium",
        "0x48" => "HiSilicon",
        "0x4e" => "NVIDIA",
        "0x50" => "APM",
        "0x51" => "Qualcomm",
        "0x61" => "Apple",
        "0x69" => "Intel",
        "0xc0" => "Ampere",
        _ => return None,
    })
}

fn arm_core(implementer: &str, part: &str) -> Option<&'static str> {
    if implementer != "0x41" {
        return None;
    }
    Some(match part {
        "0xb76" => "ARM1176",
        "0xc07" => "Cortex-A7",
        "0xc08" => "Cortex-A8",
        "0xc09" => "Cortex-A9",
        "0xc0f" => "Cortex-A15",
        "0xd03" => "Cortex-A53",
        "0xd04" => "Cortex-A35",
        "0xd05" => "Cortex-A55",
        "0xd07" => "Cortex-A57",
        "0xd08" => "Cortex-A72",
        "0xd09" => "Cortex-A73",
        "0xd0a" => "Cortex-A75",
        "0xd0b" => "Cortex-A76",
        "0xd0c" => "Neoverse-N1",
        "0xd0d" => "Cortex-A77",
        "0xd40" => "Neoverse-V1",
        "0xd41" => "Cortex-A78",
        "0xd44" => "Cortex-X1",
        "0xd46" => "Cortex-A510",
        "0xd47" => "Cortex-A710",
        "0xd48" => "Cortex-X2",
        "0xd49" => "Neoverse-N2",
        "0xd4f" => "Neoverse-V2",
        _ => return None,
    })
}

/// Parses `/proc/cpuinfo`: `key : value` lines, one block per processor. At least one
/// `processor` entry is required.
pub fn parse_cpuinfo(text: &str) -> Result<CpuInfo, ParseError> {
    let mut processors = 0u32;
    let mut model_name = None;
    let mut vendor = None;
    let mut hardware = None;
    let mut board_model = None;
    let mut implementer = None;
    let mut part = None;
    // (physical id, cpu cores) of the current block, and per socket.
    let mut physical_id: Option<String> = None;
    let mut sockets: BTreeSet<String> = BTreeSet::new();
    let mut cores_total = 0u32;
    let mut saw_cores = false;
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        if line.trim().is_empty() {
            physical_id = None;
            continue;
        }
        let (key, value) = line
            .split_once(':')
            .ok_or_else(|| ParseError::at(CMD, line_no, "expected `key : value`"))?;
        let key = key.trim();
        let value = value.trim();
        if key.is_empty() || key.contains(|c: char| c.is_control() || "{}<>\"".contains(c)) {
            return Err(ParseError::at(CMD, line_no, format!("bad key `{key}`")));
        }
        let keep = |slot: &mut Option<String>| {
            if slot.is_none() && !value.is_empty() {
                *slot = Some(value.to_string());
            }
        };
        match key {
            "processor" if value.bytes().all(|b| b.is_ascii_digit()) && !value.is_empty() => {
                processors += 1;
            }
            // Old 32-bit ARM kernels: `Processor : ARMv6-compatible processor rev 7 (v6l)`.
            "Processor" => keep(&mut model_name),
            "model name" | "cpu model" => keep(&mut model_name),
            "vendor_id" => keep(&mut vendor),
            "Hardware" => keep(&mut hardware),
            "Model" => keep(&mut board_model),
            "CPU implementer" => keep(&mut implementer),
            "CPU part" => keep(&mut part),
            "physical id" => {
                physical_id = Some(value.to_string());
            }
            "cpu cores" => {
                let n: u32 = value
                    .parse()
                    .map_err(|_| ParseError::at(CMD, line_no, format!("cpu cores `{value}`")))?;
                if let Some(id) = physical_id.clone()
                    && sockets.insert(id)
                {
                    cores_total += n;
                    saw_cores = true;
                }
            }
            _ => {}
        }
    }
    if processors == 0 {
        return Err(ParseError::new(CMD, "no `processor` entries"));
    }
    let core_name = match (&implementer, &part) {
        (Some(i), Some(p)) => {
            arm_core(i, p).map(|c| format!("{} {c}", arm_implementer(i).unwrap_or("ARM")))
        }
        _ => None,
    };
    Ok(CpuInfo {
        model_name: model_name
            .or(core_name)
            .or_else(|| board_model.clone())
            .or_else(|| hardware.clone()),
        vendor: vendor.or_else(|| {
            implementer
                .as_deref()
                .and_then(arm_implementer)
                .map(str::to_string)
        }),
        processors,
        cores: saw_cores.then_some(cores_total),
        sockets: saw_cores.then_some(sockets.len() as u32),
        hardware,
        board_model,
        cpu_implementer: implementer,
        cpu_part: part,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two sockets × 2 cores × 2 threads (abridged x86 blocks; no fixture in tests/fixtures).
    fn x86() -> String {
        let mut s = String::new();
        for (n, (phys, core)) in [
            (0, 0),
            (0, 0),
            (0, 1),
            (0, 1),
            (1, 0),
            (1, 0),
            (1, 1),
            (1, 1),
        ]
        .iter()
        .enumerate()
        {
            s.push_str(&format!(
                "processor\t: {n}\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 85\nmodel name\t: Intel(R) Xeon(R) Gold 5218 CPU @ 2.30GHz\nphysical id\t: {phys}\nsiblings\t: 4\ncore id\t\t: {core}\ncpu cores\t: 2\nflags\t\t: fpu vme de pse tsc msr\n\n"
            ));
        }
        s
    }

    const RPI4_AARCH64: &str = "processor\t: 0\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32 cpuid\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: 0xd08\nCPU revision\t: 3\n\nprocessor\t: 1\nBogoMIPS\t: 108.00\nCPU implementer\t: 0x41\nCPU part\t: 0xd08\n\nprocessor\t: 2\nCPU implementer\t: 0x41\nCPU part\t: 0xd08\n\nprocessor\t: 3\nCPU implementer\t: 0x41\nCPU part\t: 0xd08\n\nHardware\t: BCM2835\nRevision\t: c03114\nSerial\t\t: 10000000abcdef01\nModel\t\t: Raspberry Pi 4 Model B Rev 1.4\n";

    const RPI_ARMV7: &str = "processor\t: 0\nmodel name\t: ARMv7 Processor rev 4 (v7l)\nBogoMIPS\t: 38.40\nCPU implementer\t: 0x41\nCPU part\t: 0xd03\n\nprocessor\t: 1\nmodel name\t: ARMv7 Processor rev 4 (v7l)\n\nHardware\t: BCM2835\nModel\t\t: Raspberry Pi 3 Model B Rev 1.2\n";

    const UNKNOWN_ARM: &str = "processor\t: 0\nCPU implementer\t: 0x51\nCPU part\t: 0x800\n\nHardware\t: Qualcomm Technologies, Inc SDM845\n";

    #[test]
    fn x86_two_sockets() {
        let c = parse_cpuinfo(&x86()).expect("x86");
        assert_eq!(
            c.model_name.as_deref(),
            Some("Intel(R) Xeon(R) Gold 5218 CPU @ 2.30GHz")
        );
        assert_eq!(c.vendor.as_deref(), Some("GenuineIntel"));
        assert_eq!(c.processors, 8);
        assert_eq!(c.cores, Some(4));
        assert_eq!(c.sockets, Some(2));
        assert_eq!(c.hardware, None);
    }

    #[test]
    fn arm() {
        let c = parse_cpuinfo(RPI4_AARCH64).expect("rpi4");
        assert_eq!(c.processors, 4);
        assert_eq!(c.model_name.as_deref(), Some("ARM Cortex-A72"));
        assert_eq!(c.vendor.as_deref(), Some("ARM"));
        assert_eq!(c.hardware.as_deref(), Some("BCM2835"));
        assert_eq!(
            c.board_model.as_deref(),
            Some("Raspberry Pi 4 Model B Rev 1.4")
        );
        assert_eq!(c.cpu_part.as_deref(), Some("0xd08"));
        assert_eq!(c.cores, None);
        let c = parse_cpuinfo(RPI_ARMV7).expect("armv7");
        assert_eq!(c.model_name.as_deref(), Some("ARMv7 Processor rev 4 (v7l)"));
        assert_eq!(c.processors, 2);
        let c = parse_cpuinfo(UNKNOWN_ARM).expect("qualcomm");
        assert_eq!(
            c.model_name.as_deref(),
            Some("Qualcomm Technologies, Inc SDM845")
        );
        assert_eq!(c.vendor.as_deref(), Some("Qualcomm"));
    }

    #[test]
    fn odd_input() {
        assert!(parse_cpuinfo("").is_err());
        assert!(parse_cpuinfo("garbage\n").is_err());
        assert!(
            parse_cpuinfo("model name : x\n").is_err(),
            "no processor entries"
        );
        assert!(parse_cpuinfo("processor : 0\ncpu cores : many\nphysical id : 0\n").is_err());
        assert!(parse_cpuinfo("processor : 0\nphysical id : 0\ncpu cores : many\n").is_err());
        assert!(parse_cpuinfo("{\"json\": true}\n").is_err());
    }
}
