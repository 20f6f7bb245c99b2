//! The CUDA source and how NVRTC must compile it.
//!
//! The kernels replay hop-core's floating-point sequence, so the compiler must not change it:
//! `--fmad=false` forbids contracting `a * b + c` into a fused multiply-add (whose single rounding
//! would differ from the CPU's two), division and square root stay IEEE (`--prec-div=true`,
//! `--prec-sqrt=true`), denormals are kept (`--ftz=false`) and fast math is never asked for.
//! Double-precision arithmetic is IEEE round-to-nearest on every CUDA GPU; conversions
//! `(double)long long` are `cvt.rn.f64.s64`, the same rounding as Rust's `as f64`.

use cudarc::nvrtc::CompileOptions;

/// `kernels.cu`, compiled at run time.
pub const SOURCE: &str = include_str!("kernels.cu");

/// The batched full evaluation kernel.
pub const EVAL_PORTFOLIOS: &str = "eval_portfolios";
/// The single-swap kernel.
pub const EVAL_SWAPS: &str = "eval_swaps";
/// The per-strategy metrics kernel.
pub const STRATEGY_METRICS: &str = "strategy_metrics";
/// Every kernel the module must export.
pub const ALL: [&str; 3] = [EVAL_PORTFOLIOS, EVAL_SWAPS, STRATEGY_METRICS];

/// Threads per block of the two evaluation kernels (`WARP * WARPS_PER_BLOCK` in the source).
pub const EVAL_BLOCK_THREADS: u32 = 128;
/// Portfolios (or moves) per block: one warp each.
pub const PORTFOLIOS_PER_BLOCK: u32 = 4;
/// Threads per block of the metrics kernel (one strategy each).
pub const METRICS_BLOCK_THREADS: u32 = 128;

/// The NVRTC flags, as passed on the command line (asserted by the tests; see the module docs).
pub const FLAGS: [&str; 4] = [
    "--fmad=false",
    "--prec-div=true",
    "--prec-sqrt=true",
    "--ftz=false",
];

/// NVRTC options for a device of compute capability `arch` (`(9, 0)` for an H100), or NVRTC's
/// default virtual architecture when `None` (the PTX is then JIT-compiled by the driver).
pub fn compile_options(arch: Option<(i32, i32)>) -> CompileOptions {
    let mut options: Vec<String> = Vec::new();
    if let Some((major, minor)) = arch {
        options.push(format!("--gpu-architecture=compute_{major}{minor}"));
    }
    CompileOptions {
        ftz: Some(false),
        prec_sqrt: Some(true),
        prec_div: Some(true),
        fmad: Some(false),
        use_fast_math: None,
        options,
        name: Some("hop_gpu_kernels.cu".into()),
        ..Default::default()
    }
}

/// Checks compiled PTX for what the options must have kept out, returning the offending lines:
/// - fused multiply-adds and approximate operations in double precision;
/// - `add`/`sub`/`mul.f64` without an explicit rounding modifier: ptxas (and the driver's JIT) may
///   contract those into FMAs, while `.rn` ones are never contracted (PTX ISA, "Floating Point
///   Instructions"). NVRTC writes `.rn` when `--fmad=false`.
pub fn ptx_violations(ptx: &str) -> Vec<String> {
    ptx.lines()
        .map(str::trim)
        .filter(|line| {
            let op = line.split_whitespace().next().unwrap_or("");
            (op.starts_with("fma.") && op.ends_with(".f64"))
                || (op.contains(".approx") && op.ends_with(".f64"))
                || (op.starts_with("mad.") && op.ends_with(".f64"))
                || matches!(op, "add.f64" | "sub.f64" | "mul.f64")
        })
        .map(str::to_owned)
        .collect()
}

/// Checks `nvdisasm` output (SASS) for fused multiply-adds outside IEEE division: a correctly
/// rounded `div.rn.f64` is a reciprocal estimate (`MUFU.RCP64H`) refined by a fixed sequence of
/// [`DFMAS_PER_DIVISION`] `DFMA`s (interleaved by the scheduler with other instructions), with a
/// call to `__cuda_sm20_div_rn_f64_full` for hard cases. Any other `DFMA` would be a contracted
/// `a * b + c`. Returns the offending lines.
pub fn sass_violations(sass: &str) -> Vec<String> {
    /// A division's DFMAs follow its MUFU.RCP64H within this many instructions.
    const DIVISION_WINDOW: usize = 64;
    let mut bad = Vec::new();
    let mut in_division_routine = false;
    let mut since_rcp = usize::MAX;
    let mut division_dfmas_left = 0usize;
    for line in sass.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with(".section") || trimmed.starts_with(".text.") {
            in_division_routine = false;
            division_dfmas_left = 0;
        }
        if trimmed.starts_with("$__internal") && trimmed.contains("div_rn_f64") {
            in_division_routine = true;
        }
        if !trimmed.starts_with("/*") {
            continue; // not an instruction line
        }
        since_rcp = since_rcp.saturating_add(1);
        if trimmed.contains("MUFU.RCP64H") {
            since_rcp = 0;
            division_dfmas_left += DFMAS_PER_DIVISION;
        }
        if trimmed.contains(" DFMA") && !in_division_routine {
            if division_dfmas_left > 0 && since_rcp <= DIVISION_WINDOW {
                division_dfmas_left -= 1;
            } else {
                bad.push(trimmed.to_owned());
            }
        }
    }
    bad
}

/// `DFMA`s in the fast path of one `div.rn.f64` on sm_90 (two Newton steps on the reciprocal,
/// then the quotient's correction).
pub const DFMAS_PER_DIVISION: usize = 7;

/// The newest PTX ISA version a CUDA driver of `driver_version` (`cuDriverGetVersion`, e.g.
/// 12040) can JIT-compile, from NVIDIA's PTX ISA release table; `None` for drivers this table does
/// not know (older than 12.0).
pub fn ptx_isa_for_driver(driver_version: i32) -> Option<(u32, u32)> {
    let (major, minor) = (driver_version / 1000, (driver_version % 1000) / 10);
    match (major, minor) {
        (12, 0..=5) => Some((8, minor as u32)),
        (12, 6 | 7) => Some((8, 5)),
        (12, 8) => Some((8, 7)),
        (12, _) => Some((8, 8)),
        (13, m) => Some((9, m.min(9) as u32)),
        (m, _) if m > 13 => Some((9, 0)),
        _ => None,
    }
}

/// The PTX's `.version` line, e.g. `(8, 8)`.
pub fn ptx_version(ptx: &str) -> Option<(u32, u32)> {
    let line = ptx
        .lines()
        .find(|l| l.trim_start().starts_with(".version"))?;
    let (major, minor) = line.split_whitespace().nth(1)?.split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// The PTX with its `.version` line lowered to `isa`. A newer NVRTC than the driver stamps a PTX
/// ISA version that the driver refuses (`CUDA_ERROR_UNSUPPORTED_PTX_VERSION`) even though these
/// kernels use no instruction newer than PTX ISA 7.8 (the first with `sm_90`): the same
/// instructions under an older version stamp are the same code. `None` when the PTX is already at
/// or below `isa` or has no version line.
pub fn lower_ptx_version(ptx: &str, isa: (u32, u32)) -> Option<String> {
    let current = ptx_version(ptx)?;
    if current <= isa {
        return None;
    }
    let mut out = String::with_capacity(ptx.len());
    let mut done = false;
    for line in ptx.split_inclusive('\n') {
        if !done && line.trim_start().starts_with(".version") {
            out.push_str(&format!(".version {}.{}\n", isa.0, isa.1));
            done = true;
        } else {
            out.push_str(line);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sass_checker_allows_division_only() {
        let mut division = String::from(
            "\t.section\t.text.k,\"ax\",@progbits\n.text.k:\n        /*0010*/ MUFU.RCP64H R3, R33 ;\n",
        );
        for i in 0..DFMAS_PER_DIVISION {
            // Interleaved with other work, as the scheduler does.
            division.push_str(&format!(
                "        /*{:04x}*/ DFMA R4, R2, -R32, 1 ;\n",
                0x20 + 0x20 * i
            ));
            division.push_str(&format!(
                "        /*{:04x}*/ DADD R1, R2, R3 ;\n",
                0x30 + 0x20 * i
            ));
        }
        assert!(sass_violations(&division).is_empty());
        let contracted = format!("{division}        /*0400*/ DFMA R8, R2, R3, R8 ;\n");
        assert_eq!(sass_violations(&contracted).len(), 1, "an 8th DFMA");
        let lone = ".text.k:\n        /*0010*/ DFMA R8, R2, R3, R8 ;\n";
        assert_eq!(sass_violations(lone).len(), 1);
        let routine =
            "$__internal_2_$__cuda_sm20_div_rn_f64_full:\n        /*0200*/ DFMA R8, R2, R3, R8 ;\n";
        assert!(sass_violations(routine).is_empty());
    }

    #[test]
    fn ptx_version_lowering() {
        assert_eq!(ptx_isa_for_driver(12040), Some((8, 4)));
        assert_eq!(ptx_isa_for_driver(12060), Some((8, 5)));
        assert_eq!(ptx_isa_for_driver(12080), Some((8, 7)));
        assert_eq!(ptx_isa_for_driver(12090), Some((8, 8)));
        assert_eq!(ptx_isa_for_driver(13000), Some((9, 0)));
        assert_eq!(ptx_isa_for_driver(11080), None);
        let ptx = "//\n// Generated\n.version 8.8\n.target sm_90\n.address_size 64\n";
        assert_eq!(ptx_version(ptx), Some((8, 8)));
        let lowered = lower_ptx_version(ptx, (8, 4)).unwrap();
        assert_eq!(
            lowered,
            "//\n// Generated\n.version 8.4\n.target sm_90\n.address_size 64\n"
        );
        assert_eq!(lower_ptx_version(ptx, (8, 8)), None);
        assert_eq!(lower_ptx_version(ptx, (9, 0)), None);
        assert_eq!(lower_ptx_version("no version", (8, 0)), None);
    }

    #[test]
    fn options_forbid_contraction_and_fast_math() {
        let options = compile_options(Some((9, 0)));
        assert_eq!(options.fmad, Some(false));
        assert_eq!(options.ftz, Some(false));
        assert_eq!(options.prec_div, Some(true));
        assert_eq!(options.prec_sqrt, Some(true));
        assert_ne!(options.use_fast_math, Some(true));
        assert!(
            options
                .options
                .contains(&"--gpu-architecture=compute_90".to_string())
        );
        assert!(compile_options(None).options.is_empty());
    }

    #[test]
    fn source_exports_every_kernel_and_matches_the_launch_shape() {
        for name in ALL {
            assert!(
                SOURCE.contains(&format!("extern \"C\" __global__ void {name}("))
                    || SOURCE.contains(&format!("\n{name}(")),
                "{name} is not in kernels.cu"
            );
        }
        assert!(SOURCE.contains("#define WARPS_PER_BLOCK 4"));
        assert_eq!(EVAL_BLOCK_THREADS, 32 * PORTFOLIOS_PER_BLOCK);
        assert!(!SOURCE.contains('\0'), "NVRTC takes a C string");
        for forbidden in ["__fma", "fma(", "__dadd_rz", "__fmul_", "use_fast_math"] {
            assert!(!SOURCE.contains(forbidden), "{forbidden} in kernels.cu");
        }
    }

    #[test]
    fn ptx_checker_spots_fused_and_approximate_ops() {
        let ptx = "\tmul.rn.f64 %fd3, %fd1, %fd2;\n\tfma.rn.f64 %fd4, %fd1, %fd2, %fd3;\n\
                   \tadd.rn.f64 %fd5, %fd4, %fd1;\n\trcp.approx.ftz.f64 %fd6, %fd5;\n\
                   \tfma.rn.f32 %f1, %f2, %f3, %f4;\n\tmul.f64 %fd7, %fd1, %fd2;\n\
                   \tadd.f32 %f5, %f1, %f2;\n";
        let bad = ptx_violations(ptx);
        assert_eq!(bad.len(), 3, "{bad:?}");
        assert!(bad[0].starts_with("fma.rn.f64"));
        assert!(bad[1].starts_with("rcp.approx.ftz.f64"));
        assert!(bad[2].starts_with("mul.f64"));
    }
}
