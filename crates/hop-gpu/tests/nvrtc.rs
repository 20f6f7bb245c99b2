//! The kernel source through the real compilers, no GPU needed: NVRTC (libnvrtc: the CUDA
//! toolkit's, or the `nvidia-cuda-nvrtc-cu12` wheel's) compiles it to PTX; ptxas and nvdisasm
//! (`HOP_PTXAS`, `HOP_NVDISASM`, else on `PATH`) turn the PTX into the SASS an H100 runs, which is
//! checked for contracted multiply-adds. `scripts/fetch-nvrtc.sh` fetches all three from PyPI.
//! Without a tool a test prints `skipped: ...` and passes, unless `HOP_REQUIRE_NVRTC=1`.

use std::path::PathBuf;
use std::process::Command;

use hop_gpu::kernels::{self, ptx_violations, sass_violations};
use hop_gpu::{GpuError, compile_ptx, nvrtc_version};

fn required() -> bool {
    std::env::var("HOP_REQUIRE_NVRTC").is_ok_and(|v| v == "1")
}

#[test]
fn kernels_compile_to_ptx_without_fused_or_approximate_f64_ops() {
    let version = match nvrtc_version() {
        Ok(v) => v,
        Err(GpuError::NoNvrtc) if !required() => {
            println!("skipped: no libnvrtc");
            return;
        }
        Err(e) => panic!("NVRTC is not usable: {e}"),
    };
    println!("NVRTC {}.{}", version.0, version.1);
    // NVRTC's default architecture, an A100's and an H100's.
    for arch in [None, Some((8, 0)), Some((9, 0))] {
        let ptx = compile_ptx(arch).unwrap_or_else(|e| panic!("{arch:?}: {e}"));
        for name in kernels::ALL {
            assert!(
                ptx.contains(&format!(".entry {name}(")),
                "{arch:?}: no entry {name}"
            );
        }
        let bad = ptx_violations(&ptx);
        assert!(bad.is_empty(), "{arch:?}: {bad:#?}");
        // The operations the CPU does are there, IEEE-rounded: multiply, add, divide, and the
        // i64 -> f64 conversion with round-to-nearest.
        for op in ["mul.rn.f64", "add.rn.f64", "div.rn.f64", "cvt.rn.f64.s64"] {
            assert!(ptx.contains(op), "{arch:?}: no {op} in the PTX");
        }
        if let Some((major, minor)) = arch {
            assert!(
                ptx.contains(&format!(".target sm_{major}{minor}")),
                "{arch:?}"
            );
        }
    }
}

/// PTX of the kernels compiled the forbidden way (`--fmad=true`): what the checks must catch.
fn contracted_ptx() -> String {
    let options = cudarc::nvrtc::CompileOptions {
        fmad: Some(true),
        ..kernels::compile_options(Some((9, 0)))
    };
    cudarc::nvrtc::compile_ptx_with_opts(kernels::SOURCE, options)
        .unwrap()
        .to_src()
}

#[test]
fn the_checks_catch_a_contracting_compile() {
    if nvrtc_version().is_err() {
        assert!(!required(), "HOP_REQUIRE_NVRTC=1 but libnvrtc is missing");
        println!("skipped: no libnvrtc");
        return;
    }
    let bad = ptx_violations(&contracted_ptx());
    assert!(
        bad.iter().any(|l| l.starts_with("fma.rn.f64")),
        "--fmad=true should contract the day loop: {bad:?}"
    );
}

#[test]
fn a_broken_source_is_a_compile_error_not_a_panic() {
    if nvrtc_version().is_err() {
        println!("skipped: no libnvrtc");
        return;
    }
    let err = cudarc::nvrtc::compile_ptx_with_opts(
        "extern \"C\" __global__ void k( { }",
        kernels::compile_options(None),
    )
    .unwrap_err();
    assert!(format!("{err:?}").contains("error"), "{err:?}");
}

/// A tool from `env` or `PATH`.
fn tool(env: &str, name: &str) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(env) {
        return Some(PathBuf::from(path));
    }
    let found = Command::new(name).arg("--version").output().ok()?;
    found.status.success().then(|| PathBuf::from(name))
}

/// ptxas for sm_90 (H100) then nvdisasm: the machine code has no `DFMA` outside IEEE division,
/// the kernels do not spill, and every kernel is there.
#[test]
fn h100_machine_code_has_no_contracted_fma() {
    let (Some(ptxas), Some(nvdisasm)) =
        (tool("HOP_PTXAS", "ptxas"), tool("HOP_NVDISASM", "nvdisasm"))
    else {
        assert!(
            !required(),
            "HOP_REQUIRE_NVRTC=1 but ptxas or nvdisasm is missing"
        );
        println!("skipped: no ptxas/nvdisasm");
        return;
    };
    if nvrtc_version().is_err() {
        assert!(!required(), "HOP_REQUIRE_NVRTC=1 but libnvrtc is missing");
        println!("skipped: no libnvrtc");
        return;
    }
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("hop-gpu-sass");
    std::fs::create_dir_all(&dir).unwrap();
    let (ptx_path, cubin) = (dir.join("kernels.ptx"), dir.join("kernels.cubin"));
    std::fs::write(&ptx_path, compile_ptx(Some((9, 0))).unwrap()).unwrap();
    let out = Command::new(&ptxas)
        .args(["-arch=sm_90", "-v", "-o"])
        .arg(&cubin)
        .arg(&ptx_path)
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "ptxas failed:\n{log}");
    println!("{log}");
    assert!(
        !log.contains("bytes spill stores") || log.matches(" 0 bytes spill stores").count() == 3,
        "{log}"
    );
    let out = Command::new(&nvdisasm).arg(&cubin).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sass = String::from_utf8_lossy(&out.stdout);
    for name in kernels::ALL {
        assert!(
            sass.contains(&format!(".text.{name}:")),
            "no {name} in the SASS"
        );
    }
    for op in ["DADD", "DMUL", "I2F.F64.S64"] {
        assert!(sass.contains(op), "no {op} in the SASS");
    }
    let bad = sass_violations(&sass);
    assert!(bad.is_empty(), "contracted FMAs: {bad:#?}");

    // Under the oldest PTX ISA that knows sm_90 (7.8, CUDA 11.8) the PTX still assembles: the
    // fallback for a driver older than NVRTC (`kernels::lower_ptx_version`) is sound.
    let lowered = kernels::lower_ptx_version(&compile_ptx(Some((9, 0))).unwrap(), (7, 8)).unwrap();
    std::fs::write(&ptx_path, lowered).unwrap();
    let out = Command::new(&ptxas)
        .args(["-arch=sm_90", "-o"])
        .arg(&cubin)
        .arg(&ptx_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "PTX ISA 7.8: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The same pipeline on a contracting compile finds the fused operations.
    std::fs::write(&ptx_path, contracted_ptx()).unwrap();
    let out = Command::new(&ptxas)
        .args(["-arch=sm_90", "-o"])
        .arg(&cubin)
        .arg(&ptx_path)
        .output()
        .unwrap();
    assert!(out.status.success());
    let out = Command::new(&nvdisasm).arg(&cubin).output().unwrap();
    let bad = sass_violations(&String::from_utf8_lossy(&out.stdout));
    assert!(
        !bad.is_empty(),
        "the SASS check missed a contracting compile"
    );
}
