//! `--device`: where the commands compute. The CPU (burn-flex) always; an NVIDIA GPU, or the
//! CPU, through LibTorch when the binary is built with the `tch` feature (`bench/build_tch.sh`).

use anyhow::Result;
use burn::tensor::Device;
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
