//! `--device`: where the commands compute. The CPU (burn-flex) always; an NVIDIA GPU, or the
//! CPU, through LibTorch when the binary is built with the `tch` feature (`bench/build_tch.sh`).

use anyhow::{Context, Result};
use burn::tensor::{Device, DeviceConfig, FloatDType};
use clap::ValueEnum;

/// A device named on the command line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum DeviceChoice {
    /// The CPU, with burn-flex.
    #[default]
    Cpu,
    /// GPU 0, with LibTorch (needs the `tch` build).
    Cuda,
    /// The CPU, with LibTorch (needs the `tch` build; checks that backend without a GPU).
    LibtorchCpu,
}

impl DeviceChoice {
    /// The burn device.
    pub fn device(self) -> Result<Device> {
        match self {
            Self::Cpu => Ok(Device::flex()),
            #[cfg(feature = "tch")]
            Self::Cuda => Ok(Device::libtorch_cuda(0)),
            #[cfg(feature = "tch")]
            Self::LibtorchCpu => Ok(Device::libtorch()),
            #[cfg(not(feature = "tch"))]
            Self::Cuda | Self::LibtorchCpu => anyhow::bail!(
                "--device {} needs a binary built with LibTorch: run bench/build_tch.sh and use \
                 target/tch/release/xtask",
                self.to_possible_value()
                    .expect("no variant is skipped")
                    .get_name()
            ),
        }
    }
}

/// `--dtype`: the float type of the frozen backbone's weights and activations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Precision {
    /// 32-bit floats.
    #[default]
    F32,
    /// bfloat16 backbone; the prompt, class scores, loss and optimizer stay f32.
    Bf16,
    /// Double precision throughout (to see how far an f32 reference is from exact values).
    F64,
}

impl Precision {
    /// Sets `device`'s default float type (before any tensor exists on it).
    pub fn apply(self, device: &mut Device) -> Result<()> {
        let dtype = match self {
            Self::F32 => return Ok(()),
            Self::Bf16 => FloatDType::BF16,
            Self::F64 => FloatDType::F64,
        };
        device
            .configure(DeviceConfig::default().float_dtype(dtype))
            .with_context(|| format!("cannot switch the device to {self:?}"))
    }
}

#[cfg(all(test, not(feature = "tch")))]
mod tests {
    use super::*;

    #[test]
    fn a_libtorch_device_without_the_tch_build_says_how_to_get_one() {
        let err = DeviceChoice::Cuda.device().unwrap_err().to_string();
        assert_eq!(
            err,
            "--device cuda needs a binary built with LibTorch: run bench/build_tch.sh and use \
             target/tch/release/xtask"
        );
        assert!(DeviceChoice::Cpu.device().is_ok());
    }
}
