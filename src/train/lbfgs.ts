/** Limited-memory BFGS for the smooth convex fits of training (logistic regressions, the ensemble's stacker). */

export interface LbfgsResult {
  x: Float64Array;
  loss: number;
  iterations: number;
  converged: boolean;
}

/** Limited-memory BFGS (m = 10) with a backtracking Armijo line search; for smooth convex objectives. */
export function lbfgs(
  f: (x: Float64Array, g: Float64Array) => number,
  x0: Float64Array,
  opts: { maxIter: number; tol: number; onIteration?: (it: number, loss: number, gradNorm: number) => void },
): LbfgsResult {
  const m = 10;
  const dim = x0.length;
  let x = Float64Array.from(x0);
  let g = new Float64Array(dim);
  let loss = f(x, g);
  const s: Float64Array[] = [];
  const yv: Float64Array[] = [];
  const rho: number[] = [];
  const d = new Float64Array(dim);
  const alpha = new Array<number>(m);
  const xNew = new Float64Array(dim);
  const gNew = new Float64Array(dim);
  const infNorm = (v: Float64Array) => v.reduce((a, b) => Math.max(a, Math.abs(b)), 0);
  const dot = (a: Float64Array, b: Float64Array) => {
    let r = 0;
    for (let i = 0; i < a.length; i++) r += a[i] * b[i];
    return r;
  };

  let iterations = 0;
  let converged = infNorm(g) < opts.tol;
  while (!converged && iterations < opts.maxIter) {
    // Two-loop recursion: d = -H·g
    for (let i = 0; i < dim; i++) d[i] = -g[i];
    for (let k = s.length - 1; k >= 0; k--) {
      alpha[k] = rho[k] * dot(s[k], d);
      const yk = yv[k];
      for (let i = 0; i < dim; i++) d[i] -= alpha[k] * yk[i];
    }
    if (s.length > 0) {
      const last = s.length - 1;
      const gamma = dot(s[last], yv[last]) / dot(yv[last], yv[last]);
      for (let i = 0; i < dim; i++) d[i] *= gamma;
    } else {
      const scale = 1 / Math.max(1e-12, Math.sqrt(dot(g, g)));
      for (let i = 0; i < dim; i++) d[i] *= scale;
    }
    for (let k = 0; k < s.length; k++) {
      const beta = rho[k] * dot(yv[k], d);
      const sk = s[k];
      for (let i = 0; i < dim; i++) d[i] += sk[i] * (alpha[k] - beta);
    }
    let slope = dot(g, d);
    if (slope >= 0) {
      // Not a descent direction (numerical trouble): restart from steepest descent.
      s.length = yv.length = rho.length = 0;
      for (let i = 0; i < dim; i++) d[i] = -g[i];
      slope = dot(g, d);
    }

    let step = 1;
    let newLoss = Infinity;
    for (let tries = 0; tries < 30; tries++) {
      for (let i = 0; i < dim; i++) xNew[i] = x[i] + step * d[i];
      newLoss = f(xNew, gNew);
      if (newLoss <= loss + 1e-4 * step * slope) break;
      step *= 0.5;
    }
    iterations++;
    if (!(newLoss <= loss)) break; // line search failed: keep the best point found so far

    const sk = new Float64Array(dim);
    const yk = new Float64Array(dim);
    for (let i = 0; i < dim; i++) {
      sk[i] = xNew[i] - x[i];
      yk[i] = gNew[i] - g[i];
    }
    const sy = dot(sk, yk);
    if (sy > 1e-12) {
      if (s.length === m) {
        s.shift();
        yv.shift();
        rho.shift();
      }
      s.push(sk);
      yv.push(yk);
      rho.push(1 / sy);
    }
    const relDecrease = (loss - newLoss) / Math.max(Math.abs(loss), Math.abs(newLoss), 1);
    x = Float64Array.from(xNew);
    g = Float64Array.from(gNew);
    loss = newLoss;
    const gn = infNorm(g);
    opts.onIteration?.(iterations, loss, gn);
    converged = gn < opts.tol || relDecrease < 1e-10;
  }
  return { x, loss, iterations, converged };
}
