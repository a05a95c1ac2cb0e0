// qk-projection.wgsl — one head's queries and keys (and values) in 3D: AttentionViz's
// normalisation and a joint PCA, GPU side of src/reference/qk-projection.ts (read its module
// comment for the math and the sign convention).
//
// Bindings (group 0, the same for every entry point): 0 params (uniform QkParams), 1 src: the
// buffer holding the q, k (and v) rows (read), 2 work: the small results, laid out by the WORK_*
// constants below (read_write), 3 cov: the dHead × dHead covariance (read_write), 4 points: one
// vec4 per drawn point, x, y, z, kind (0 query, 1 key, 2 value) (read_write).
// Entry points, dispatched in this order in one pass (each sees the previous one's writes):
//   means       (dHead, 1, 1) workgroups of MEANS_WG: mean of q, k, v per dimension;
//   norms       (1, 1, 1) of NORMS_WG: mean norms, scale a, shift c, the fit's joint mean μ;
//   covariance  (ceil(dHead / 32), ceil(dHead / 32), 1) of 8 × 8: one invocation per 4 × 4 block;
//   eigen       (1, 1, 1) of EIGEN_WG: top-3 by subspace iteration + Rayleigh–Ritz (3 × 3 Jacobi);
//   project     (ceil(drawn / 64), 1, 1) of 64: one invocation per drawn point.
//
// Does not include common.wgsl: binding 0 is this kernel's own uniform block, QkParams (laid out
// for the host from this declaration by src/gpu/uniforms.ts). The host reads the WORK_*
// constants from this text (src/kernels/qk-projection.ts), so they are declared only here.
//
// Sums over rows are split: per invocation, then a tree (means, norms), or in blocks of 32 rows
// (covariance, one invocation per block of entries), so f32 rounding does not grow with the
// row count. The eigen step keeps the whole iteration
// in one workgroup: SwiftShader's barriers are expensive, so the 3 × 3 Gram matrix is computed
// redundantly by every invocation from workgroup memory instead of by a tree of barriers.

const QK_MAX_D: u32 = 256u;
const WORK_MEAN_Q: u32 = 0u;
const WORK_MEAN_K: u32 = 256u;
const WORK_MEAN_V: u32 = 512u;
const WORK_SHIFT: u32 = 768u;
const WORK_FIT: u32 = 1024u;     // μ of the fit (raw: the joint mean of q and k; covariance centre)
const WORK_MEAN: u32 = 1280u;    // μ as reported and subtracted from the points (raw: zeros)
const WORK_AXES: u32 = 1536u;    // 3 × dHead, axis a at WORK_AXES + a · dHead
const WORK_SCALARS: u32 = 2304u; // scale a, meanNorm(q), meanNorm(k'), trace, share, λ1, λ2, λ3
const WORK_SIZE: u32 = 2312u;

const MEANS_WG: u32 = 64u;
const NORMS_WG: u32 = 256u;
const EIGEN_WG: u32 = 128u;
const SUM_BLOCK: u32 = 32u;
// trace(C) ≤ FLAT_SPREAD · mean ‖x‖²: no spread f32 resolves (QK_FLAT_SPREAD of the reference).
const FLAT_SPREAD: f32 = 1e-10;
// The iteration multiplies by C / trace + SHIFT·I: same eigenvectors, and no basis vector can
// collapse to zero on rank-deficient data (C's null space keeps the norm SHIFT).
const SHIFT: f32 = 0.01;

struct QkParams {
  queries: u32,
  keys: u32,
  values: u32,      // 0 (no values) or keys
  dHead: u32,
  rowStride: u32,   // elements between consecutive rows of q (and of k, v) in `src`
  qOffset: u32,     // element offset of q_0 in `src`
  kOffset: u32, vOffset: u32,
  raw: u32,         // 1: dHead ≤ 3, no normalisation and no projection
  iterations: u32,  // subspace iterations
  drawQ: u32, drawK: u32, drawV: u32, // drawn points per cloud
  strideQ: u32,     // drawn point p of a cloud is row p · stride
  strideK: u32,     // (values share the keys' stride)
};

@group(0) @binding(0) var<uniform> params: QkParams;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> work: array<f32>;
@group(0) @binding(3) var<storage, read_write> cov: array<f32>;
@group(0) @binding(4) var<storage, read_write> points: array<vec4<f32>>;

// ---- means ---------------------------------------------------------------------------------

var<workgroup> meanPartials: array<vec3<f32>, MEANS_WG>;

// Σ over rows lid, lid + MEANS_WG, … of src[base + r · rowStride] (then a tree across the group).
fn columnSum(base: u32, rows: u32, lid: u32) -> f32 {
  var total = 0.0;
  for (var r = lid; r < rows; r += MEANS_WG) {
    total += src[base + r * params.rowStride];
  }
  return total;
}

@compute @workgroup_size(MEANS_WG)
fn means(@builtin(workgroup_id) group: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let j = group.x;
  // No values: params.values is 0 and the third sum reads nothing.
  meanPartials[lid] = vec3<f32>(columnSum(params.qOffset + j, params.queries, lid), columnSum(params.kOffset + j, params.keys, lid), columnSum(params.vOffset + j, params.values, lid));
  workgroupBarrier();
  for (var span = MEANS_WG / 2u; span > 0u; span >>= 1u) {
    if (lid < span) {
      meanPartials[lid] += meanPartials[lid + span];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    let total = meanPartials[0] / vec3<f32>(f32(params.queries), f32(params.keys), f32(max(params.values, 1u)));
    work[WORK_MEAN_Q + j] = total.x;
    work[WORK_MEAN_K + j] = total.y;
    work[WORK_MEAN_V + j] = total.z;
  }
}

// ---- norms ---------------------------------------------------------------------------------

var<workgroup> normPartials: array<vec2<f32>, NORMS_WG>;

// Σ ‖row + shift‖ over rows lid, lid + NORMS_WG, … (shift = c for the keys, none for queries).
fn normSum(offset: u32, rows: u32, withShift: bool, lid: u32) -> f32 {
  var total = 0.0;
  for (var r = lid; r < rows; r += NORMS_WG) {
    var sq = 0.0;
    for (var i = 0u; i < params.dHead; i++) {
      let x = src[offset + r * params.rowStride + i] + select(0.0, work[WORK_MEAN_Q + i] - work[WORK_MEAN_K + i], withShift);
      sq = fma(x, x, sq);
    }
    total += sqrt(sq);
  }
  return total;
}

@compute @workgroup_size(NORMS_WG)
fn norms(@builtin(local_invocation_index) lid: u32) {
  let raw = params.raw == 1u;
  var sums = vec2<f32>(0.0);
  if (!raw) {
    sums = vec2<f32>(normSum(params.qOffset, params.queries, false, lid), normSum(params.kOffset, params.keys, true, lid));
  }
  normPartials[lid] = sums;
  workgroupBarrier();
  for (var span = NORMS_WG / 2u; span > 0u; span >>= 1u) {
    if (lid < span) {
      normPartials[lid] += normPartials[lid + span];
    }
    workgroupBarrier();
  }
  let n = f32(params.queries);
  let m = f32(params.keys);
  let normQ = normPartials[0].x / n;
  let normK = normPartials[0].y / m;
  var a = 1.0;
  if (!raw && normQ > 0.0 && normK > 0.0) {
    a = sqrt(normK / normQ);
  }
  for (var i = lid; i < params.dHead; i += NORMS_WG) {
    let mq = work[WORK_MEAN_Q + i];
    let mk = work[WORK_MEAN_K + i];
    // Raw: the joint mean of q and k. Else mean(k + c) = mean(q): the joint mean of a·q and (k + c)/a.
    work[WORK_SHIFT + i] = select(mq - mk, 0.0, raw);
    work[WORK_FIT + i] = select(mq * (n * a + m / a), n * mq + m * mk, raw) / (n + m);
  }
  if (lid == 0u) {
    work[WORK_SCALARS] = a;
    work[WORK_SCALARS + 1u] = normQ;
    work[WORK_SCALARS + 2u] = normK;
  }
}

// ---- covariance ----------------------------------------------------------------------------

// Column i of a row, clamped into the row (a 4 × 4 block past dHead computes, but never writes,
// duplicates of the last column).
fn column(base: u32, first: u32) -> vec4<f32> {
  let last = params.dHead - 1u;
  return vec4<f32>(src[base + min(first, last)], src[base + min(first + 1u, last)], src[base + min(first + 2u, last)], src[base + min(first + 3u, last)]);
}

fn fitVector(offset: u32, first: u32) -> vec4<f32> {
  let last = params.dHead - 1u;
  return vec4<f32>(work[offset + min(first, last)], work[offset + min(first + 1u, last)], work[offset + min(first + 2u, last)], work[offset + min(first + 3u, last)]);
}

// One invocation per 4 × 4 block of entries (rows i0…i0+3, columns j0…j0+3) with i0 ≤ j0: each
// row read gives 16 products for 8 loads.
@compute @workgroup_size(8, 8)
fn covariance(@builtin(global_invocation_id) id: vec3<u32>) {
  let d = params.dHead;
  let i0 = 4u * id.y;
  let j0 = 4u * id.x;
  if (i0 >= d || j0 >= d || i0 > j0) {
    return;
  }
  let a = work[WORK_SCALARS];
  let inv = 1.0 / a;
  let ci = fitVector(WORK_SHIFT, i0);
  let cj = fitVector(WORK_SHIFT, j0);
  let mi = fitVector(WORK_FIT, i0);
  let mj = fitVector(WORK_FIT, j0);
  var total = mat4x4<f32>();
  var block = mat4x4<f32>();
  let rows = params.queries + params.keys;
  for (var r = 0u; r < rows; r++) {
    var xi: vec4<f32>;
    var xj: vec4<f32>;
    if (r < params.queries) {
      let base = params.qOffset + r * params.rowStride;
      xi = a * column(base, i0) - mi;
      xj = a * column(base, j0) - mj;
    } else {
      let base = params.kOffset + (r - params.queries) * params.rowStride;
      xi = (column(base, i0) + ci) * inv - mi;
      xj = (column(base, j0) + cj) * inv - mj;
    }
    // Column c of the block: entries (i0 + t, j0 + c), xi[t] · xj[c].
    block += mat4x4<f32>(xi * xj.x, xi * xj.y, xi * xj.z, xi * xj.w);
    if (r % SUM_BLOCK == SUM_BLOCK - 1u) {
      total += block;
      block = mat4x4<f32>();
    }
  }
  total = (total + block) * (1.0 / f32(rows));
  for (var c = 0u; c < 4u; c++) {
    for (var t = 0u; t < 4u; t++) {
      let i = i0 + t;
      let j = j0 + c;
      if (i < d && j < d && i <= j) {
        cov[i * d + j] = total[c][t];
        cov[j * d + i] = total[c][t];
      }
    }
  }
}

// ---- eigen ---------------------------------------------------------------------------------

// Row i of the 3 basis vectors (x, y, z; w unused), and row i of their image under C.
var<workgroup> basis: array<vec4<f32>, QK_MAX_D>;
var<workgroup> image: array<vec4<f32>, QK_MAX_D>;
var<workgroup> eigenMode: u32;   // 0: fit, 1: raw, 2: flat (no spread)
var<workgroup> eigenTrace: f32;

// A fixed pseudo-random start in [−1, 1) (PCG hash): never orthogonal to a subspace by design.
fn hashUnit(x: u32) -> f32 {
  var h = x * 747796405u + 2891336453u;
  h = ((h >> ((h >> 28u) + 4u)) ^ h) * 277803737u;
  h = (h >> 22u) ^ h;
  return f32(h >> 8u) / 8388608.0 - 1.0;
}

// Row i of C · basis.
fn multiplyRow(i: u32) -> vec3<f32> {
  var acc = vec3<f32>(0.0);
  for (var j = 0u; j < params.dHead; j++) {
    acc = fma(vec3<f32>(cov[i * params.dHead + j]), basis[j].xyz, acc);
  }
  return acc;
}

// Σ_i outer(x_i, y_i) over the rows (column c: Σ x_i · y_i[c]).
fn outerSum(xImage: bool, yImage: bool) -> mat3x3<f32> {
  var m = mat3x3<f32>();
  for (var i = 0u; i < params.dHead; i++) {
    let x = select(basis[i].xyz, image[i].xyz, xImage);
    let y = select(basis[i].xyz, image[i].xyz, yImage);
    m += mat3x3<f32>(x * y.x, x * y.y, x * y.z);
  }
  return m;
}

// Upper-triangular R with RᵀR = g (Cholesky of a 3 × 3 Gram matrix), columns of the result.
fn cholesky(g: mat3x3<f32>) -> mat3x3<f32> {
  let tiny = 1e-30;
  let r00 = sqrt(max(g[0].x, tiny));
  let r01 = g[1].x / r00;
  let r02 = g[2].x / r00;
  let r11 = sqrt(max(g[1].y - r01 * r01, tiny));
  let r12 = (g[2].y - r01 * r02) / r11;
  let r22 = sqrt(max(g[2].z - r02 * r02 - r12 * r12, tiny));
  return mat3x3<f32>(r00, 0.0, 0.0, r01, r11, 0.0, r02, r12, r22);
}

// The row w · R⁻¹ (forward substitution).
fn solveRow(r: mat3x3<f32>, w: vec3<f32>) -> vec4<f32> {
  let v0 = w.x / r[0].x;
  let v1 = (w.y - r[1].x * v0) / r[1].y;
  return vec4<f32>(v0, v1, (w.z - r[2].x * v0 - r[2].y * v1) / r[2].z, 0.0);
}

// Eigenvectors (columns, values descending; a stable sort) of a symmetric 3 × 3 by cyclic
// Jacobi rotations, A ← PᵀAP, Y ← YP. Every invocation computes the same result.
fn jacobi3(t: mat3x3<f32>, values: ptr<function, vec3<f32>>) -> mat3x3<f32> {
  var a = t;
  var y = mat3x3<f32>(1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0);
  for (var sweep = 0u; sweep < 12u; sweep++) {
    for (var p = 0u; p < 2u; p++) {
      for (var q = p + 1u; q < 3u; q++) {
        let apq = a[q][p];
        if (apq == 0.0) { continue; }
        let theta = (a[q][q] - a[p][p]) / (2.0 * apq);
        let tn = select(-1.0, 1.0, theta >= 0.0) / (abs(theta) + sqrt(theta * theta + 1.0));
        let c = 1.0 / sqrt(tn * tn + 1.0);
        var rotation = mat3x3<f32>(1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0);
        rotation[p][p] = c;
        rotation[q][q] = c;
        rotation[q][p] = tn * c;
        rotation[p][q] = -tn * c;
        a = transpose(rotation) * a * rotation;
        a[q][p] = 0.0;
        a[p][q] = 0.0;
        y = y * rotation;
      }
    }
  }
  let l = vec3<f32>(a[0][0], a[1][1], a[2][2]);
  var order = vec3<u32>(0u, 1u, 2u);
  if (l[order.y] > l[order.x]) { order = order.yxz; }
  if (l[order.z] > l[order.y]) { order = order.xzy; }
  if (l[order.y] > l[order.x]) { order = order.yxz; }
  *values = vec3<f32>(l[order.x], l[order.y], l[order.z]);
  return mat3x3<f32>(y[order.x], y[order.y], y[order.z]);
}

// Raw (the standard basis, the raw coordinates' variances) or flat (the standard basis, no spread).
fn writeFixed(mode: u32, lid: u32, trace: f32) {
  let d = params.dHead;
  for (var i = lid; i < d; i += EIGEN_WG) {
    for (var a = 0u; a < 3u; a++) {
      work[WORK_AXES + a * d + i] = select(0.0, 1.0, i == a);
    }
    work[WORK_MEAN + i] = select(work[WORK_FIT + i], 0.0, mode == 1u);
  }
  if (lid == 0u) {
    for (var a = 0u; a < 3u; a++) {
      // Raw: C_aa (the index clamped: no read past C when d < 3).
      work[WORK_SCALARS + 5u + a] = select(0.0, cov[min(a, d - 1u) * (d + 1u)], mode == 1u && a < d);
    }
    work[WORK_SCALARS + 3u] = select(0.0, trace, mode == 1u);
    work[WORK_SCALARS + 4u] = 1.0;
  }
}

@compute @workgroup_size(EIGEN_WG)
fn eigen(@builtin(local_invocation_index) lid: u32) {
  let d = params.dHead;
  if (lid == 0u) {
    var trace = 0.0;
    var centre = 0.0;
    for (var i = 0u; i < d; i++) {
      trace += cov[i * d + i];
      centre = fma(work[WORK_FIT + i], work[WORK_FIT + i], centre);
    }
    eigenTrace = trace;
    eigenMode = select(select(0u, 2u, trace <= FLAT_SPREAD * (trace + centre)), 1u, params.raw == 1u);
  }
  let mode = workgroupUniformLoad(&eigenMode);
  let trace = workgroupUniformLoad(&eigenTrace);
  if (mode != 0u) {
    writeFixed(mode, lid, trace);
    return;
  }
  let invTrace = 1.0 / trace;
  for (var i = lid; i < d; i += EIGEN_WG) {
    basis[i] = vec4<f32>(hashUnit(3u * i), hashUnit(3u * i + 1u), hashUnit(3u * i + 2u), 0.0);
  }
  workgroupBarrier();
  // Subspace iteration: image = (C / trace + SHIFT·I) · basis, basis = image · R⁻¹ (Cholesky QR).
  for (var it = 0u; it < params.iterations; it++) {
    for (var i = lid; i < d; i += EIGEN_WG) {
      image[i] = vec4<f32>(multiplyRow(i) * invTrace + SHIFT * basis[i].xyz, 0.0);
    }
    workgroupBarrier();
    let r = cholesky(outerSum(true, true));
    for (var i = lid; i < d; i += EIGEN_WG) {
      basis[i] = solveRow(r, image[i].xyz);
    }
    workgroupBarrier();
  }
  // A second Cholesky QR of the basis itself: orthonormal to f32 precision (CholQR2).
  let r2 = cholesky(outerSum(false, false));
  workgroupBarrier();
  for (var i = lid; i < d; i += EIGEN_WG) {
    basis[i] = solveRow(r2, basis[i].xyz);
  }
  workgroupBarrier();
  // Rayleigh–Ritz: T = basisᵀ (C / trace) basis, diagonalised, orders the three axes.
  for (var i = lid; i < d; i += EIGEN_WG) {
    image[i] = vec4<f32>(multiplyRow(i) * invTrace, 0.0);
  }
  workgroupBarrier();
  let t = outerSum(false, true);
  var ritz = vec3<f32>(0.0);
  let y = jacobi3(0.5 * (t + transpose(t)), &ritz);
  workgroupBarrier();
  for (var i = lid; i < d; i += EIGEN_WG) {
    image[i] = vec4<f32>(basis[i].xyz * y, 0.0);
  }
  workgroupBarrier();
  // Sign convention: the largest-magnitude component of each axis is positive (ties: lowest index).
  var best = vec3<f32>(0.0);
  var largest = vec3<f32>(0.0);
  for (var i = 0u; i < d; i++) {
    let e = image[i].xyz;
    let larger = abs(e) > best;
    best = select(best, abs(e), larger);
    largest = select(largest, e, larger);
  }
  let flip = select(vec3<f32>(1.0), vec3<f32>(-1.0), largest < vec3<f32>(0.0));
  for (var i = lid; i < d; i += EIGEN_WG) {
    let e = image[i].xyz * flip;
    work[WORK_AXES + i] = e.x;
    work[WORK_AXES + d + i] = e.y;
    work[WORK_AXES + 2u * d + i] = e.z;
    work[WORK_MEAN + i] = work[WORK_FIT + i];
  }
  if (lid == 0u) {
    let lambda = max(ritz, vec3<f32>(0.0)) * trace;
    work[WORK_SCALARS + 3u] = trace;
    work[WORK_SCALARS + 4u] = min(1.0, (lambda.x + lambda.y + lambda.z) / trace);
    for (var a = 0u; a < 3u; a++) {
      work[WORK_SCALARS + 5u + a] = lambda[a];
    }
  }
}

// ---- project -------------------------------------------------------------------------------

@compute @workgroup_size(64)
fn project(@builtin(global_invocation_id) id: vec3<u32>) {
  let p = id.x;
  let drawQK = params.drawQ + params.drawK;
  if (p >= drawQK + params.drawV) {
    return;
  }
  let d = params.dHead;
  let a = work[WORK_SCALARS];
  var base: u32;
  var kind = 0.0;
  var factor = a;
  var shifted = false;
  var centre = WORK_MEAN;
  if (p < params.drawQ) {
    base = params.qOffset + p * params.strideQ * params.rowStride;
  } else if (p < drawQK) {
    base = params.kOffset + (p - params.drawQ) * params.strideK * params.rowStride;
    kind = 1.0;
    factor = 1.0 / a;
    shifted = true;
  } else {
    // Values are raw: not translated or scaled, centred on their own mean (raw mode: not at all).
    base = params.vOffset + (p - drawQK) * params.strideK * params.rowStride;
    kind = 2.0;
    factor = 1.0;
    centre = select(WORK_MEAN_V, WORK_MEAN, params.raw == 1u);
  }
  var coords = vec3<f32>(0.0);
  for (var i = 0u; i < d; i++) {
    let x = (src[base + i] + select(0.0, work[WORK_SHIFT + i], shifted)) * factor - work[centre + i];
    coords = fma(vec3<f32>(x), vec3<f32>(work[WORK_AXES + i], work[WORK_AXES + d + i], work[WORK_AXES + 2u * d + i]), coords);
  }
  points[p] = vec4<f32>(coords, kind);
}
