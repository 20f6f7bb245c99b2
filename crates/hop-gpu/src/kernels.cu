// hop-gpu kernels: hop-core's exact fitness and per-strategy metrics, replayed bit for bit.
//
// Compiled at run time by NVRTC with `--fmad=false` (no multiply-add contraction), IEEE division
// and square root, no flush-to-zero and no fast math (see `kernels.rs`). Every floating-point
// operation below is written in the order of the Rust code it mirrors; the Rust replay of this file
// is `reference.rs`, tested bit-equal to hop-core on the CPU. Only integer sums (exact, so any
// order gives the same bits) are done in parallel; each day loop runs on one thread, in day order.
//
// Layouts (all built by `plan.rs` / `batch.rs`):
//   qz[j * 2T + d]     quantized P&L of strategy j on day d (hop_core::exact::Problem::q)
//   qz[j * 2T + T + d] quantized standardized column (Problem::z)
//   norms[j]           Problem::norm(j)
//   members[i * k + m] member m of portfolio i
//   accs[c * 2T + ...] a chain's accumulators, laid out like one qz block (s then z)
//   moves[3 i ..]      (chain, outgoing strategy, incoming strategy) of single-swap move i
//   values[j * T + d]  the f64 P&L matrix, strategy-major (hop_core::PnlMatrix::values)

typedef long long i64;
typedef unsigned long long u64;

#define WARP 32
#define WARPS_PER_BLOCK 4
#define DAYS_PER_LANE 3
#define CHUNK (WARP * DAYS_PER_LANE)
#define FULL_MASK 0xffffffffu

// Uniform per launch; `#[repr(C)] struct Score` in `plan.rs` (64 bytes, same field order).
struct Score {
    double c;           // quantized day sum -> p[t] (Problem::day_factor(k))
    double zc;          // 2^-zshift
    double days;        // T as a double
    double pairs;       // k (k - 1) / 2 as a double
    double weight;      // correlation penalty weight
    double mdd_epsilon; // hop_core::metrics::MDD_EPSILON
    int t;              // days
    int k;              // members per portfolio
    int metric;         // 0 ratio, 1 roi, 2 less max dd, 3 win percentage, 4 profit factor, 5 expectancy
    int penalized;      // weight != 0 && k >= 2
};

__device__ __forceinline__ double positive_infinity() {
    return __longlong_as_double(0x7ff0000000000000LL);
}

// hop_core::exact::max: one select (not fmax), so that the bits match on every input.
__device__ __forceinline__ double select_max(double a, double b) {
    return b > a ? b : a;
}

// The state of Problem::score_with's day loop.
struct DayState {
    double equity;
    double peak;
    double mdd;
    double zz;
    double gains;
    double negative;
    unsigned wins;
    unsigned losing;
};

__device__ __forceinline__ void day_start(DayState& st) {
    st.equity = 0.0;
    st.peak = -positive_infinity();
    st.mdd = 0.0;
    st.zz = 0.0;
    st.gains = 0.0;
    st.negative = 0.0;
    st.wins = 0u;
    st.losing = 0u;
}

// One iteration of Problem::score_with: `s` and `z` are the day's exact quantized sums.
__device__ __forceinline__ void day_step(DayState& st, i64 s, i64 z, const Score& sc, bool counts) {
    const double p = (double)s * sc.c;
    st.equity = st.equity + p;
    st.peak = select_max(st.peak, st.equity);
    st.mdd = select_max(st.mdd, st.peak - st.equity);
    if (sc.penalized) {
        const double zf = (double)z * sc.zc;
        st.zz = st.zz + zf * zf;
    }
    if (counts) {
        st.wins += (p > 0.0) ? 1u : 0u;
        st.losing += (p < 0.0) ? 1u : 0u;
        st.gains = st.gains + ((p > 0.0) ? p : 0.0);
        st.negative = st.negative + ((p < 0.0) ? p : 0.0);
    }
}

// hop_core::metrics::ratio.
__device__ __forceinline__ double ratio(double roi, double mdd, double eps) {
    if (mdd > eps) {
        return roi / mdd;
    } else if (roi > 0.0) {
        return 100.0 * roi;
    } else if (roi < 0.0) {
        return 10.0 * roi;
    }
    return 0.0;
}

// The end of Problem::score_with: the metric, then the correlation penalty.
__device__ double day_finish(const DayState& st, i64 norm, const Score& sc) {
    double base;
    switch (sc.metric) {
    case 0:
        base = ratio(st.equity, st.mdd, sc.mdd_epsilon);
        break;
    case 1:
        base = st.equity;
        break;
    case 2:
        base = -st.mdd;
        break;
    case 3:
        base = (double)st.wins / sc.days;
        break;
    case 4: {
        const double losses = -st.negative;
        if (losses > sc.mdd_epsilon) {
            base = st.gains / losses;
        } else if (st.gains > 0.0) {
            base = 1.0;
        } else {
            base = 0.0;
        }
        break;
    }
    default: {
        const double w = (double)st.wins / sc.days;
        const double avg_win = st.wins > 0u ? st.gains / (double)st.wins : 0.0;
        const double avg_loss = st.losing > 0u ? -st.negative / (double)st.losing : 0.0;
        const double won = w * avg_win;
        const double lost = (1.0 - w) * avg_loss;
        base = won - lost;
        break;
    }
    }
    if (!sc.penalized) {
        return base;
    }
    const double norms = (double)norm * sc.zc;
    const double pair_sum = (st.zz - norms) * 0.5;
    const double mean = pair_sum / sc.pairs;
    const double penalty = sc.weight * mean;
    return base - penalty;
}

// Exact 64-bit warp sum (two's complement: the order does not matter).
__device__ __forceinline__ u64 warp_sum(u64 v) {
    for (int offset = WARP / 2; offset > 0; offset /= 2) {
        v += __shfl_xor_sync(FULL_MASK, v, offset);
    }
    return v;
}

// Lane 0 runs the day loop over one chunk of day sums that the warp left in shared memory.
__device__ __forceinline__ void run_chunk(DayState& st, const i64* s, const i64* z, int days,
                                          const Score& sc, bool counts) {
    for (int d = 0; d < days; ++d) {
        day_step(st, s[d], z[d], sc, counts);
    }
}

// (a) Batched full evaluation: one warp per portfolio. The lanes sum the members' qz blocks day by
// day (exact integers, coalesced reads), one chunk of CHUNK days at a time; lane 0 then runs the
// sequential day loop over the chunk.
extern "C" __global__ void __launch_bounds__(WARP * WARPS_PER_BLOCK)
eval_portfolios(const i64* __restrict__ qz, const i64* __restrict__ norms,
                const unsigned* __restrict__ members, unsigned count, Score sc,
                double* __restrict__ out) {
    __shared__ i64 sh_s[WARPS_PER_BLOCK][CHUNK];
    __shared__ i64 sh_z[WARPS_PER_BLOCK][CHUNK];
    const unsigned warp = threadIdx.x / WARP;
    const unsigned lane = threadIdx.x % WARP;
    const u64 i = (u64)blockIdx.x * WARPS_PER_BLOCK + warp;
    if (i >= count) {
        return; // uniform across the warp
    }
    const int t = sc.t;
    const u64 stride = 2 * (u64)t;
    const unsigned* mine = members + i * (u64)sc.k;

    u64 norm = 0;
    for (int m = lane; m < sc.k; m += WARP) {
        norm += (u64)norms[mine[m]];
    }
    norm = warp_sum(norm);

    const bool counts = sc.metric >= 3;
    DayState st;
    day_start(st);
    for (int d0 = 0; d0 < t; d0 += CHUNK) {
        u64 s[DAYS_PER_LANE];
        u64 z[DAYS_PER_LANE];
#pragma unroll
        for (int r = 0; r < DAYS_PER_LANE; ++r) {
            s[r] = 0;
            z[r] = 0;
        }
#pragma unroll 4
        for (int m = 0; m < sc.k; ++m) {
            const i64* row = qz + (u64)mine[m] * stride;
#pragma unroll
            for (int r = 0; r < DAYS_PER_LANE; ++r) {
                const int d = d0 + (int)lane + r * WARP;
                if (d < t) {
                    s[r] += (u64)row[d];
                    z[r] += (u64)row[t + d];
                }
            }
        }
#pragma unroll
        for (int r = 0; r < DAYS_PER_LANE; ++r) {
            const int d = (int)lane + r * WARP;
            if (d0 + d < t) {
                sh_s[warp][d] = (i64)s[r];
                sh_z[warp][d] = (i64)z[r];
            }
        }
        __syncwarp();
        if (lane == 0) {
            run_chunk(st, sh_s[warp], sh_z[warp], min(CHUNK, t - d0), sc, counts);
        }
        __syncwarp();
    }
    if (lane == 0) {
        out[i] = day_finish(st, (i64)norm, sc);
    }
}

// Single-swap moves (Problem::swap_fitness): one warp per move. The chain's accumulators minus
// the outgoing member plus the incoming one, day by day, then the same day loop.
extern "C" __global__ void __launch_bounds__(WARP * WARPS_PER_BLOCK)
eval_swaps(const i64* __restrict__ qz, const i64* __restrict__ norms,
           const i64* __restrict__ accs, const i64* __restrict__ acc_norms,
           const unsigned* __restrict__ moves, unsigned count, Score sc,
           double* __restrict__ out) {
    __shared__ i64 sh_s[WARPS_PER_BLOCK][CHUNK];
    __shared__ i64 sh_z[WARPS_PER_BLOCK][CHUNK];
    const unsigned warp = threadIdx.x / WARP;
    const unsigned lane = threadIdx.x % WARP;
    const u64 i = (u64)blockIdx.x * WARPS_PER_BLOCK + warp;
    if (i >= count) {
        return; // uniform across the warp
    }
    const int t = sc.t;
    const u64 stride = 2 * (u64)t;
    const unsigned chain = moves[3 * i];
    const unsigned outgoing = moves[3 * i + 1];
    const unsigned incoming = moves[3 * i + 2];
    const i64* acc = accs + (u64)chain * stride;
    const i64* qo = qz + (u64)outgoing * stride;
    const i64* qi = qz + (u64)incoming * stride;
    const i64 norm = (i64)((u64)acc_norms[chain] - (u64)norms[outgoing] + (u64)norms[incoming]);

    const bool counts = sc.metric >= 3;
    DayState st;
    day_start(st);
    for (int d0 = 0; d0 < t; d0 += CHUNK) {
#pragma unroll
        for (int r = 0; r < DAYS_PER_LANE; ++r) {
            const int d = (int)lane + r * WARP;
            const int day = d0 + d;
            if (day < t) {
                sh_s[warp][d] = (i64)((u64)acc[day] - (u64)qo[day] + (u64)qi[day]);
                sh_z[warp][d] = (i64)((u64)acc[t + day] - (u64)qo[t + day] + (u64)qi[t + day]);
            }
        }
        __syncwarp();
        if (lane == 0) {
            run_chunk(st, sh_s[warp], sh_z[warp], min(CHUNK, t - d0), sc, counts);
        }
        __syncwarp();
    }
    if (lane == 0) {
        out[i] = day_finish(st, norm, sc);
    }
}

// (b) Per-strategy metrics (hop_core::metrics::strategy_metrics over SeriesStats::of): one thread
// per strategy, its days in order. `out[5 j ..]` = ROI, max drawdown, win percentage, profit
// factor, expectancy. `fmax` is IEEE maxNum, like Rust's f64::max (the CPU code uses f64::max).
extern "C" __global__ void strategy_metrics(const double* __restrict__ values, unsigned n, int t,
                                            double* __restrict__ out) {
    const u64 j = (u64)blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= n) {
        return;
    }
    const double* col = values + j * (u64)t;
    double equity = 0.0;
    double peak = -positive_infinity();
    double max_drawdown = 0.0;
    u64 win_days = 0;
    u64 loss_days = 0;
    double gains = 0.0;
    double negative_sum = 0.0;
    for (int d = 0; d < t; ++d) {
        const double p = col[d];
        equity = equity + p;
        peak = fmax(peak, equity);
        max_drawdown = fmax(max_drawdown, peak - equity);
        if (p > 0.0) {
            win_days += 1;
            gains = gains + p;
        } else if (p < 0.0) {
            loss_days += 1;
            negative_sum = negative_sum + p;
        }
    }
    const double losses = fabs(negative_sum);
    const double days = (double)t;
    const double win_percentage = (double)win_days / days;
    const double profit_factor = losses == 0.0 ? positive_infinity() : gains / losses;
    const double avg_win = win_days > 0 ? gains / (double)win_days : 0.0;
    const double avg_loss = loss_days > 0 ? losses / (double)loss_days : 0.0;
    const double won = win_percentage * avg_win;
    const double lost = (1.0 - win_percentage) * avg_loss;
    double* o = out + 5 * j;
    o[0] = equity;
    o[1] = max_drawdown;
    o[2] = win_percentage;
    o[3] = profit_factor;
    o[4] = won - lost;
}
