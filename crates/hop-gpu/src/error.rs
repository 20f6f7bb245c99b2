//! Why the GPU cannot be used, or why a GPU call failed.

/// A GPU failure. Every variant's message is a sentence fit for a log line and for the
/// `ENGINE_UNAVAILABLE` message of a job (after "no usable GPU: ").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GpuError {
    /// libcuda could not be loaded (no NVIDIA driver on this machine or in this container).
    #[error("the CUDA driver library (libcuda) is not installed or not on the library path")]
    NoDriver,
    /// The driver loaded but reports no device (or none at the requested ordinal).
    #[error("no CUDA device: {0}")]
    NoDevice(String),
    /// libnvrtc could not be loaded, so the kernels cannot be compiled.
    #[error(
        "the CUDA runtime compiler library (libnvrtc) is not installed or not on the library path"
    )]
    NoNvrtc,
    /// NVRTC refused the kernels (the log says why).
    #[error("the GPU kernels did not compile: {0}")]
    Compile(String),
    /// A driver call failed.
    #[error("CUDA driver error during {during}: {error}")]
    Driver { during: String, error: String },
    /// cudarc panicked (a missing symbol in an old driver, for example); caught, never propagated.
    #[error("the CUDA library failed unexpectedly during {during}: {message}")]
    Panicked { during: String, message: String },
    /// The problem cannot be scored by these kernels (see the message).
    #[error("{0}")]
    Plan(String),
    /// The device was marked unusable after an earlier failure.
    #[error("the GPU failed earlier in this process and is no longer used: {0}")]
    Broken(String),
}

impl GpuError {
    pub(crate) fn driver(during: &str, error: cudarc::driver::DriverError) -> Self {
        Self::Driver {
            during: during.to_owned(),
            error: driver_message(&error),
        }
    }
}

/// `no CUDA-capable device is detected (CUDA_ERROR_NO_DEVICE)`: the driver's sentence and the
/// code's name (the name alone when the driver cannot say more).
pub(crate) fn driver_message(error: &cudarc::driver::DriverError) -> String {
    match error.error_string() {
        Ok(text) => format!("{} ({:?})", text.to_string_lossy(), error.0),
        Err(_) => format!("{:?}", error.0),
    }
}

/// Runs `f`, turning a panic inside cudarc into [`GpuError::Panicked`].
pub(crate) fn guarded<T>(
    during: &str,
    f: impl FnOnce() -> Result<T, GpuError>,
) -> Result<T, GpuError> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => {
            let message = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "a panic without a message".to_owned());
            Err(GpuError::Panicked {
                during: during.to_owned(),
                message,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panics_become_errors() {
        let err = guarded::<()>("a test", || panic!("Missing symbol cuFoo")).unwrap_err();
        assert_eq!(
            err,
            GpuError::Panicked {
                during: "a test".into(),
                message: "Missing symbol cuFoo".into()
            }
        );
        assert!(err.to_string().contains("Missing symbol cuFoo"));
        let err = guarded::<()>("x", || std::panic::panic_any(7u8)).unwrap_err();
        assert!(err.to_string().contains("without a message"));
        assert_eq!(guarded("ok", || Ok(3)), Ok(3));
    }
}
