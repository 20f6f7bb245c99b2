//! Host-side batching: what goes to the GPU, in which buffers, and how results come back. Pure
//! functions, tested without a GPU.

use std::ops::Range;

use hop_core::eval::{Chain, Swap};

use crate::error::GpuError;
use crate::kernels::{METRICS_BLOCK_THREADS, PORTFOLIOS_PER_BLOCK};

/// Where a batch runs. A GPU round trip (upload, launch, synchronize, download) costs tens of
/// microseconds whatever its size, while the CPU scores a k = 35 portfolio in about a microsecond
/// and a single swap in a fraction of one: small batches are faster on the CPU, with the same bits.
/// The search's own batches are small today (SA 16 moves, HC 4, GA 64, DE/PSO/ACO 32, RS 256),
/// so only batches at or above these sizes go to the GPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dispatch {
    /// Full evaluations (`evaluate`, `evaluate_near`) of at least this many portfolios run on the
    /// GPU.
    pub min_portfolios: usize,
    /// Swap batches of at least this many moves run on the GPU.
    pub min_swaps: usize,
    /// The most portfolios or moves per launch (bounds the device buffers).
    pub max_launch: usize,
}

impl Default for Dispatch {
    fn default() -> Self {
        Self {
            min_portfolios: 256,
            min_swaps: 1024,
            max_launch: 1 << 18,
        }
    }
}

impl Dispatch {
    /// Every batch on the GPU (the tests that compare engines use this).
    pub fn always_gpu() -> Self {
        Self {
            min_portfolios: 0,
            min_swaps: 0,
            ..Self::default()
        }
    }

    /// The defaults, overridden by `HOP_GPU_MIN_PORTFOLIOS`, `HOP_GPU_MIN_SWAPS` and
    /// `HOP_GPU_MAX_LAUNCH` when set to an integer (for tuning on a GPU machine).
    pub fn from_env() -> Self {
        Self::from_lookup(|key| std::env::var(key).ok())
    }

    /// [`Dispatch::from_env`] over any key lookup.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let read = |key: &str, default: usize| {
            lookup(key)
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(default)
        };
        let d = Self::default();
        Self {
            min_portfolios: read("HOP_GPU_MIN_PORTFOLIOS", d.min_portfolios),
            min_swaps: read("HOP_GPU_MIN_SWAPS", d.min_swaps),
            max_launch: read("HOP_GPU_MAX_LAUNCH", d.max_launch).max(1),
        }
    }

    pub fn portfolios_on_gpu(&self, count: usize) -> bool {
        count > 0 && count >= self.min_portfolios
    }

    pub fn swaps_on_gpu(&self, count: usize) -> bool {
        count > 0 && count >= self.min_swaps
    }
}

/// `[0, count)` in consecutive ranges of at most `max` (none when `count` is 0).
pub fn launch_ranges(count: usize, max: usize) -> impl Iterator<Item = Range<usize>> {
    let max = max.max(1);
    (0..count.div_ceil(max)).map(move |i| i * max..((i + 1) * max).min(count))
}

/// Blocks for `count` portfolios or moves (one warp each).
pub fn eval_blocks(count: usize) -> u32 {
    u32::try_from(count.div_ceil(PORTFOLIOS_PER_BLOCK as usize))
        .expect("launches are cut to max_launch")
}

/// Blocks for `n` strategies (one thread each).
pub fn metrics_blocks(n: usize) -> u32 {
    u32::try_from(n.div_ceil(METRICS_BLOCK_THREADS as usize)).expect("u32 strategies")
}

/// Checks a batch of portfolios before it reaches the device: the kernels read `qz` at the members'
/// indices without bounds checks, so an index out of range must never get there.
pub fn check_portfolios(
    n: usize,
    k: usize,
    k_room: usize,
    members: &[u32],
    count: usize,
) -> Result<(), GpuError> {
    if k == 0 || k > k_room {
        return Err(GpuError::Plan(format!(
            "portfolios of {k} members are outside the quantization's range (1..={k_room})"
        )));
    }
    if members.len() != k * count {
        return Err(GpuError::Plan(format!(
            "{} members for {count} portfolios of {k}",
            members.len()
        )));
    }
    if let Some(&bad) = members.iter().find(|&&j| j as usize >= n) {
        return Err(GpuError::Plan(format!(
            "strategy index {bad} out of range ({n} strategies)"
        )));
    }
    Ok(())
}

/// The moves of one portfolio size, ready for `eval_swaps`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SwapGroup {
    /// Members per portfolio.
    pub k: usize,
    /// The accumulators of the chains the moves use, renumbered `0..`, `2 T` each (s then z).
    pub accs: Vec<i64>,
    /// Their norm sums.
    pub acc_norms: Vec<i64>,
    /// `(chain, outgoing strategy, incoming strategy)` per move, chains renumbered.
    pub moves: Vec<u32>,
    /// Where each move's result goes in the caller's output.
    pub slots: Vec<usize>,
}

impl SwapGroup {
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }
}

/// Packs single-swap moves into one group per portfolio size (in practice one group: every chain
/// of a search has the job's k), keeping only the chains that the moves use.
pub fn pack_swaps(
    chains: &[Chain],
    moves: &[Swap],
    n: usize,
    t: usize,
) -> Result<Vec<SwapGroup>, GpuError> {
    let mut groups: Vec<SwapGroup> = Vec::new();
    // chain index -> (group, renumbered chain)
    let mut placed: Vec<Option<(usize, u32)>> = vec![None; chains.len()];
    for (slot, m) in moves.iter().enumerate() {
        let c = m.chain as usize;
        let chain = chains.get(c).ok_or_else(|| {
            GpuError::Plan(format!("move {slot} names chain {c} of {}", chains.len()))
        })?;
        let k = chain.members.len();
        let outgoing = *chain.members.get(m.out_pos as usize).ok_or_else(|| {
            GpuError::Plan(format!("move {slot} replaces member {} of {k}", m.out_pos))
        })?;
        if outgoing as usize >= n || m.incoming as usize >= n {
            return Err(GpuError::Plan(format!(
                "move {slot}: strategy index out of range ({n} strategies)"
            )));
        }
        let (g, local) = match placed[c] {
            Some(p) => p,
            None => {
                if chain.acc.s.len() != t || chain.acc.z.len() != t {
                    return Err(GpuError::Plan(format!(
                        "chain {c} has accumulators of {} days, not {t}",
                        chain.acc.s.len()
                    )));
                }
                let g = match groups.iter().position(|g| g.k == k) {
                    Some(g) => g,
                    None => {
                        groups.push(SwapGroup {
                            k,
                            ..SwapGroup::default()
                        });
                        groups.len() - 1
                    }
                };
                let group = &mut groups[g];
                let local = group.acc_norms.len() as u32;
                group.accs.extend_from_slice(&chain.acc.s);
                group.accs.extend_from_slice(&chain.acc.z);
                group.acc_norms.push(chain.acc.norm);
                placed[c] = Some((g, local));
                (g, local)
            }
        };
        let group = &mut groups[g];
        group
            .moves
            .extend_from_slice(&[local, outgoing, m.incoming]);
        group.slots.push(slot);
    }
    Ok(groups)
}

/// Writes a group's results to their slots of `out`.
pub fn scatter(slots: &[usize], results: &[f64], out: &mut [f64]) {
    assert_eq!(slots.len(), results.len(), "one result per move");
    for (&slot, &r) in slots.iter().zip(results) {
        out[slot] = r;
    }
}

/// Unpacks the metrics kernel's output (5 values per strategy).
pub fn unpack_metrics(raw: &[f64]) -> Vec<hop_core::StrategyMetrics> {
    raw.chunks_exact(5)
        .map(|m| hop_core::StrategyMetrics {
            roi: m[0],
            max_drawdown: m[1],
            win_percentage: m[2],
            profit_factor: m[3],
            expectancy: m[4],
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use hop_core::fitness::{FitnessSpec, Problem};
    use hop_core::{JobOptions, PnlMatrix};

    use super::*;

    fn small() -> (PnlMatrix, Problem) {
        let matrix = hop_core::fixtures::matrix("sensex_500x82.csv");
        let options = JobOptions::with_size(10);
        let problem = Problem::new(&matrix, FitnessSpec::from(&options), 12).unwrap();
        (matrix, problem)
    }

    #[test]
    fn dispatch_thresholds() {
        let d = Dispatch::default();
        assert!(!d.portfolios_on_gpu(64) && d.portfolios_on_gpu(256));
        assert!(!d.swaps_on_gpu(16) && d.swaps_on_gpu(4096));
        let always = Dispatch::always_gpu();
        assert!(always.portfolios_on_gpu(1) && always.swaps_on_gpu(1));
        assert!(
            !always.portfolios_on_gpu(0),
            "an empty batch never launches"
        );
        let env = Dispatch::from_lookup(|k| match k {
            "HOP_GPU_MIN_SWAPS" => Some(" 8 ".into()),
            "HOP_GPU_MAX_LAUNCH" => Some("0".into()),
            "HOP_GPU_MIN_PORTFOLIOS" => Some("many".into()),
            _ => None,
        });
        assert_eq!(env.min_swaps, 8);
        assert_eq!(env.max_launch, 1);
        assert_eq!(env.min_portfolios, d.min_portfolios);
    }

    #[test]
    fn ranges_and_grids() {
        let r: Vec<_> = launch_ranges(10, 4).collect();
        assert_eq!(r, [0..4, 4..8, 8..10]);
        assert_eq!(launch_ranges(0, 4).count(), 0);
        assert_eq!(launch_ranges(8, 4).collect::<Vec<_>>(), [0..4, 4..8]);
        assert_eq!(launch_ranges(3, 0).count(), 3);
        assert_eq!(eval_blocks(1), 1);
        assert_eq!(eval_blocks(4), 1);
        assert_eq!(eval_blocks(5), 2);
        assert_eq!(eval_blocks(1 << 20), 1 << 18);
        assert_eq!(metrics_blocks(25_544), 200);
    }

    #[test]
    fn portfolio_checks() {
        assert!(check_portfolios(10, 2, 4, &[0, 1, 2, 9], 2).is_ok());
        assert!(check_portfolios(10, 2, 4, &[0, 1, 2, 10], 2).is_err());
        assert!(check_portfolios(10, 2, 4, &[0, 1, 2], 2).is_err());
        assert!(check_portfolios(10, 5, 4, &[0; 5], 1).is_err());
        assert!(check_portfolios(10, 0, 4, &[], 0).is_err());
    }

    #[test]
    fn swaps_pack_only_used_chains_and_scatter_back() {
        let (_, problem) = small();
        let t = problem.n_days();
        let chains: Vec<Chain> = [vec![1, 2, 3], vec![4, 5, 6], vec![7, 8, 9, 10]]
            .into_iter()
            .map(|m| Chain::new(&problem, m, 0.0))
            .collect();
        let moves = [
            Swap {
                chain: 2,
                out_pos: 3,
                incoming: 11,
            },
            Swap {
                chain: 0,
                out_pos: 1,
                incoming: 12,
            },
            Swap {
                chain: 2,
                out_pos: 0,
                incoming: 13,
            },
        ];
        let groups = pack_swaps(&chains, &moves, problem.n_strategies(), t).unwrap();
        assert_eq!(groups.len(), 2, "k = 4 and k = 3");
        let g4 = &groups[0];
        assert_eq!(g4.k, 4);
        assert_eq!(g4.acc_norms, [chains[2].acc.norm]);
        assert_eq!(&g4.accs[..t], &chains[2].acc.s[..]);
        assert_eq!(&g4.accs[t..], &chains[2].acc.z[..]);
        assert_eq!(g4.moves, [0, 10, 11, 0, 7, 13]);
        assert_eq!(g4.slots, [0, 2]);
        let g3 = &groups[1];
        assert_eq!((g3.k, g3.len()), (3, 1));
        assert_eq!(g3.moves, [0, 2, 12]);
        assert_eq!(g3.accs.len(), 2 * t, "chain 1 is unused and not uploaded");

        let mut out = [0.0; 3];
        scatter(&g4.slots, &[1.5, 2.5], &mut out);
        scatter(&g3.slots, &[3.5], &mut out);
        assert_eq!(out, [1.5, 3.5, 2.5]);

        let bad = [Swap {
            chain: 3,
            out_pos: 0,
            incoming: 1,
        }];
        assert!(pack_swaps(&chains, &bad, problem.n_strategies(), t).is_err());
        let bad = [Swap {
            chain: 0,
            out_pos: 3,
            incoming: 1,
        }];
        assert!(pack_swaps(&chains, &bad, problem.n_strategies(), t).is_err());
        let bad = [Swap {
            chain: 0,
            out_pos: 0,
            incoming: 500,
        }];
        assert!(pack_swaps(&chains, &bad, problem.n_strategies(), t).is_err());
        assert!(pack_swaps(&chains, &[], 500, t).unwrap().is_empty());
    }

    #[test]
    fn metrics_unpack() {
        let m = unpack_metrics(&[1.0, 2.0, 0.5, f64::INFINITY, 0.1, 6.0, 7.0, 8.0, 9.0, 10.0]);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].profit_factor, f64::INFINITY);
        assert_eq!(m[1].expectancy, 10.0);
    }
}
