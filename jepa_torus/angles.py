"""Label-free torus angles: recover two circular coordinates from a point cloud and
score them against true angles up to the symmetries a chart of the torus can have.

* ``recover_angles``   two circle-valued coordinates from persistent cohomology
                       (DREiMac's sparse toroidal coordinates, Scoccola et al. 2023).
* ``angle_agreement``  best Jammalamadaka-SenGupta circular correlation of each recovered
                       angle with a small integer combination of the true angles, the
                       integer matrix of the match and its determinant (|det| = 1: a chart).
* ``plot_angles``      one-column figure of each recovered angle against its match.

Nothing here uses labels to find the angles: the true angles are only read by the score.
"""
from __future__ import annotations

import math
import warnings

import numpy as np

__all__ = ["recover_angles", "angle_agreement", "plot_angles"]

TWO_PI = 2.0 * np.pi


# ----------------------------------------------------------------------------- input checks

def _as_points(points) -> np.ndarray:
    try:
        x = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"points must be a numeric array of shape (n, d): {e}") from None
    if x.ndim != 2 or x.shape[1] < 1:
        raise ValueError(f"points must have shape (n, d), got {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("points contain NaN or inf")
    return x


def _as_angles(a, name: str) -> np.ndarray:
    try:
        x = np.asarray(a, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{name} must be a numeric array of shape (n, 2): {e}") from None
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"{name} must have shape (n, 2), got {x.shape}")
    if x.shape[0] < 3:
        raise ValueError(f"{name} needs at least 3 rows, got {x.shape[0]}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} contains NaN or inf")
    return x


def _is_prime(p: int) -> bool:
    return p >= 2 and all(p % k for k in range(2, math.isqrt(p) + 1))


# ----------------------------------------------------------------------------- recovery

def recover_angles(points, n_landmarks: int = 200, prime: int = 47, seed=0, perc: float = 0.5,
                   return_info: bool = False, metric: str = "intrinsic"):
    """Two circular coordinates of a point cloud, in [0, 2pi), from persistent cohomology.

    Method (Scoccola, Gakhar, Bush, Schonsheck, Rask, Zhou, Perea, "Toroidal coordinates:
    decorrelating circular coordinates with lattice reduction", SoCG 2023), as implemented by
    DREiMac's ``ToroidalCoords``:

    1. ``n_landmarks`` maxmin (furthest-point) landmarks; Vietoris-Rips persistent cohomology
       of the landmarks in degree 1 with coefficients in Z/``prime`` (ripser), in ``metric``:
       "intrinsic" (default; kNN-graph geodesics, ``metrics.distance_matrix``, the topology
       instrument's metric, passed to DREiMac as a distance matrix) or "euclidean".  On
       trained embeddings the chordal metric's short cuts kill the second class early
       (measured: no chart on SIGReg's torus_world embeddings, which the intrinsic metric
       charts).
    2. The two most persistent H1 classes (DREiMac sorts bars by death - birth, longest
       first; we pass ``cocycle_idxs=[0, 1]``).  Both must be persistent in DREiMac's
       standard sense (``standard_range=True``): there must be a Rips scale t with
       2 * max(births) < t < min(deaths), where both bars are alive and the balls of radius
       t / 2 still carry them as Cech classes; DREiMac builds the coordinates at such a t.
       If the two longest bars admit no such t, that is a ValueError: the cloud does not
       show two persistent H1 classes, so no torus chart.
    3. Each Z/p cocycle is lifted to an integer cocycle (representatives in
       (-p/2, p/2], repaired by an integer program if the lift is not a cocycle), replaced by
       its harmonic representative, and integrated over a partition of unity on balls of
       radius r = threshold / 2 around the landmarks, threshold = (1 - perc) * 2 * max(births)
       + perc * min(deaths), which gives one circle-valued map per class.
    4. The two maps are decorrelated by LLL lattice reduction of the Gram matrix of the
       harmonic cocycles: the output is ``B @ (theta_1, theta_2) mod 2pi`` for an integer
       change of basis B.  LLL only makes unimodular moves, so |det B| = 1, which means the
       reduced pair is an invertible integer recombination of the original pair: the same map
       to the torus T^2 followed by an automorphism of T^2, i.e. still a valid chart of the
       same two classes, never a degenerate (det 0) or multiple-cover (|det| > 1) one.  The
       reduction only picks, among those equivalent charts, the least sheared one.

    The prime: a Z/p class is the reduction of an integer class when H_1 has no p-torsion
    (a torus has none), and the centred lift to (-p/2, p/2] recovers the integer cocycle when
    its values are small next to p; a largish prime (47, the repository's usual
    coefficient) makes both failures unlikely, and an odd one keeps the centred lift
    symmetric.  ``prime`` must be an odd prime.

    Why DREiMac and not hand-written: the pipeline needs persistent cohomology with cocycles,
    integer lifts with an integer-programming repair, harmonic smoothing, a partition of
    unity and lattice reduction; DREiMac is the reference implementation by the method's
    authors, maintained and tested, built on ripser (already a dependency).  Writing it again
    would be a second, untested copy of a published algorithm.

    Versions: dreimac >= 0.3.2 (0.3.0 names the attributes read for ``info`` differently and
    bounds the integer repair of step 3 to non-negative values, which 0.3.2 fixed).  Every
    dreimac release from 0.3.1 on declares Requires-Python < 3.12, so the dependency is
    declared for Python < 3.12 only; elsewhere this function raises ImportError.  DREiMac
    defines some numba kernels inside its functions, so each call recompiles them (about
    0.5 s of every call), not only the first.

    Determinism: DREiMac and ripser are deterministic, and ripser's maxmin landmarks start
    from the first row.  ``seed`` (anything ``np.random.default_rng`` takes) draws a
    permutation of the rows, so it chooses the first landmark; the output is returned in the
    original row order.  Same input and seed, same output.

    Parameters
    ----------
    points : (n, d) array, finite, n >= n_landmarks.
    n_landmarks : number of maxmin landmarks (3 <= n_landmarks <= n).  Cost grows like
        n_landmarks^2 (edges) to n_landmarks^3 (the cocycle check over triangles).
    prime : odd prime coefficient field for the persistent cohomology.
    seed : chooses the first landmark (see above).
    perc : where between the class's Cech birth and death the cover radius sits (0..1),
        DREiMac's ``perc``.
    return_info : also return a dict: ``h1`` (the H1 diagram, longest bar first),
        ``classes`` (the two bars used), ``change_basis`` (the 2x2 integer LLL matrix B),
        ``det`` (its determinant, +-1), ``gram`` (Gram matrix of the reduced cocycles),
        ``landmarks`` (row indices, maxmin order), ``cover_radius`` and ``n_uncovered`` (points outside
        every ball; their angle is not meaningful).

    Returns
    -------
    angles : (n, 2) float array in [0, 2pi); with ``return_info``, (angles, info).
    """
    x = _as_points(points)
    n = x.shape[0]
    if isinstance(n_landmarks, bool) or not isinstance(n_landmarks, (int, np.integer)):
        raise ValueError(f"n_landmarks must be an int, got {n_landmarks!r}")
    if n_landmarks < 3:
        raise ValueError(f"n_landmarks must be >= 3, got {n_landmarks}")
    if n < n_landmarks:
        raise ValueError(f"fewer points ({n}) than landmarks ({n_landmarks})")
    if isinstance(prime, bool) or not isinstance(prime, (int, np.integer)) or prime < 3 or not _is_prime(int(prime)):
        raise ValueError(f"prime must be an odd prime, got {prime!r}")
    if not 0.0 <= perc <= 1.0:
        raise ValueError(f"perc must be in [0, 1], got {perc}")

    try:
        from dreimac import ToroidalCoords  # imported here: it pulls numba (~2 s)
    except ImportError as e:
        raise ImportError(
            "recover_angles needs dreimac>=0.3.2, a dependency only for Python < 3.12 because "
            "its releases declare Requires-Python < 3.12; on a newer Python try "
            "`pip install --ignore-requires-python 'dreimac>=0.3.2'` (pure Python, untested here)"
        ) from e

    perm = np.random.default_rng(seed).permutation(n)
    if metric == "intrinsic":
        from .metrics import distance_matrix

        dist = distance_matrix(x[perm], "intrinsic")
        tc = ToroidalCoords(dist, n_landmarks=int(n_landmarks), distance_matrix=True, prime=int(prime), maxdim=1)
    elif metric == "euclidean":
        tc = ToroidalCoords(x[perm], n_landmarks=int(n_landmarks), prime=int(prime), maxdim=1)
    else:
        raise ValueError(f"metric must be 'intrinsic' or 'euclidean', got {metric!r}")
    h1 = np.asarray(tc.dgms_[1], dtype=np.float64)  # sorted by DREiMac, longest bar first
    if len(h1) < 2:
        raise ValueError(f"the landmark complex has {len(h1)} H1 class(es); two are needed for a torus")
    births, deaths = h1[:2, 0], h1[:2, 1]
    if not np.all(np.isfinite(deaths)) or not 2.0 * births.max() < deaths.min():
        raise ValueError(
            "fewer than 2 persistent H1 classes: the two longest bars "
            f"{[tuple(map(float, b)) for b in h1[:2]]} are not both alive at a scale where they "
            "are Cech classes (needs 2 * max(birth) < min(death)); the data show no torus H1")

    with warnings.catch_warnings():
        # DREiMac warns about points outside every ball; that count goes into info instead.
        warnings.filterwarnings("ignore", message="There are .* not covered by a landmark")
        try:
            theta = tc.get_coordinates(perc=perc, cocycle_idxs=[0, 1], standard_range=True)
        except np.linalg.LinAlgError as e:  # Gram matrix of the two cocycles not positive definite
            raise ValueError(f"the two H1 classes have dependent harmonic representatives: {e}") from None
        except Exception as e:
            if type(e) is Exception:  # DREiMac signals failures with bare Exception
                raise ValueError(f"DREiMac could not build the coordinates: {e}") from None
            raise

    angles = np.empty((n, 2))
    angles[perm] = np.mod(np.asarray(theta, dtype=np.float64).T, TWO_PI)
    angles[angles >= TWO_PI] = 0.0  # mod can round up to 2pi for tiny negatives
    if not return_info:
        return angles

    basis = np.rint(np.asarray(tc._change_basis)).astype(int)
    r_cover = float(tc._r_cover)
    info = {
        "h1": h1,
        "classes": h1[:2].copy(),
        "change_basis": basis,
        "det": int(round(np.linalg.det(basis))),
        "gram": np.asarray(tc._gram_matrix, dtype=np.float64),
        "landmarks": perm[np.asarray(tc._idx_land)],
        "cover_radius": r_cover,
        "n_uncovered": int(np.sum(np.min(tc._dist_land_data, axis=0) >= r_cover)),
    }
    return angles, info


# ----------------------------------------------------------------------------- agreement

def _js_rho(a: np.ndarray, b: np.ndarray) -> float:
    """Jammalamadaka-SenGupta correlation, the larger |.| of its two centring choices."""
    def rho(a0: float, b0: float) -> float:
        sa, sb = np.sin(a - a0), np.sin(b - b0)
        den = math.sqrt(float(np.dot(sa, sa)) * float(np.dot(sb, sb)))
        return float(np.dot(sa, sb)) / den if den > 0 else 0.0

    # (i) centred at the marginal mean directions (JS 2001, eq. 8.2.2)
    r_marg = rho(np.angle(np.exp(1j * a).sum()), np.angle(np.exp(1j * b).sum()))
    # (ii) centred so that a0 - b0, a0 + b0 are the mean directions of a - b and a + b
    #      (JS 2001, p. 177, for uniform marginals, where (i) is ill-defined)
    m_minus = np.angle(np.exp(1j * (a - b)).sum())
    m_plus = np.angle(np.exp(1j * (a + b)).sum())
    r_unif = rho(0.5 * (m_plus + m_minus), 0.5 * (m_plus - m_minus))
    return r_marg if abs(r_marg) >= abs(r_unif) else r_unif


def _primitive_directions(max_coef: int) -> list[tuple[int, int]]:
    """Primitive integer vectors (p, q), |p|, |q| <= max_coef, one of each +- pair."""
    out = []
    for p in range(0, max_coef + 1):
        for q in range(-max_coef, max_coef + 1):
            if (p == 0 and q <= 0) or math.gcd(p, q) != 1:
                continue
            out.append((p, q))
    return out


def angle_agreement(recovered, true, max_coef: int = 1) -> dict:
    """How well recovered angles match true ones, up to the symmetries of a torus chart.

    A chart of the torus T^2 = R^2 / 2pi Z^2 found without labels is only determined up to
    GL(2, Z) (each recovered angle may be any primitive integer combination
    a1 * t1 + a2 * t2 of the true angles t1, t2, with either orientation) and a constant
    shift per angle.  For each recovered angle r_k this takes the best match over the
    primitive vectors (a1, a2) with |a_i| <= ``max_coef`` (default 1: the 4 directions
    t1, t2, t1 + t2, t1 - t2, each with both signs) and reports

        |rho_k| = max over (a1, a2) of |rho_JS(r_k, a1 * t1 + a2 * t2)|.

    rho_JS is the circular correlation of Jammalamadaka & SenGupta (Topics in Circular
    Statistics, 2001, section 8.2; Jammalamadaka & Sarma 1988):

        rho(alpha, beta) = sum_i sin(alpha_i - alpha0) sin(beta_i - beta0)
                           / sqrt(sum_i sin^2(alpha_i - alpha0) * sum_i sin^2(beta_i - beta0)),

    invariant to constant shifts of either angle, in [-1, 1] by Cauchy-Schwarz, +-1 when
    beta = +-alpha + const.  The centres (alpha0, beta0) are the mean directions of alpha and
    beta (eq. 8.2.2); on a torus the angles are often near-uniform, where the mean direction
    is ill-defined and noise can rotate it arbitrarily, so the centring JS give for uniform
    marginals (p. 177: alpha0 - beta0 and alpha0 + beta0 the mean directions of alpha - beta
    and alpha + beta, numerator (R_minus - R_plus) / 2) is also evaluated and the larger
    |rho| of the two kept.  The sign of rho gives the orientation, i.e. the sign of the row.

    Coefficients beyond +-1 are not searched by default: a recovered angle matching, say,
    2 t1 + t2 would be a strongly sheared chart, which DREiMac's lattice reduction avoids.

    Returns a dict:
        ``correlation``      [|rho_1|, |rho_2|]
        ``matrix``           2x2 integer matrix M, row k the signed best (a1, a2) for r_k,
                             so recovered ~ M @ true + shift (mod 2pi)
        ``det``              det M; |det| = 1 means the two recovered angles form a valid
                             chart of the true torus (M is invertible over Z), 0 that both
                             track the same circle, |det| > 1 a multiple cover
        ``valid_chart``      |det| == 1
        ``min_correlation``  min(|rho_1|, |rho_2|), the headline number
    """
    r = _as_angles(recovered, "recovered")
    t = _as_angles(true, "true")
    if r.shape[0] != t.shape[0]:
        raise ValueError(f"recovered has {r.shape[0]} rows, true has {t.shape[0]}")
    if isinstance(max_coef, bool) or not isinstance(max_coef, (int, np.integer)) or max_coef < 1:
        raise ValueError(f"max_coef must be an int >= 1, got {max_coef!r}")

    directions = _primitive_directions(int(max_coef))
    combos = [np.mod(p * t[:, 0] + q * t[:, 1], TWO_PI) for p, q in directions]
    rows, corr = [], []
    for k in range(2):
        rhos = [_js_rho(r[:, k], c) for c in combos]
        best = int(np.argmax(np.abs(rhos)))  # first of equals: the order above, t1 before t2
        sign = 1 if rhos[best] >= 0 else -1
        rows.append([sign * directions[best][0], sign * directions[best][1]])
        corr.append(min(abs(rhos[best]), 1.0))
    m = np.array(rows, dtype=int)
    det = int(m[0, 0] * m[1, 1] - m[0, 1] * m[1, 0])
    return {
        "correlation": corr,
        "matrix": m.tolist(),
        "det": det,
        "valid_chart": abs(det) == 1,
        "min_correlation": min(corr),
    }


# ----------------------------------------------------------------------------- figure

def _combo_label(p: int, q: int) -> str:
    terms = []
    for c, name in ((p, r"\theta_1"), (q, r"\theta_2")):
        if c == 0:
            continue
        s = "-" if c < 0 else ("+" if terms else "")
        mag = "" if abs(c) == 1 else str(abs(c))
        terms.append(f"{s}{mag}{name}")
    return "$" + "".join(terms) + "$"


def plot_angles(recovered, true, axes=None, max_coef: int = 1):
    """Each recovered angle against the true-angle combination it matches best
    (``angle_agreement``), shifted by the circular mean offset so that a perfect match lies
    on the diagonal (up to wrap-around at 0 = 2pi).  Two panels sized for one column of a
    two-column paper (3.3 x 1.7 in), fonts >= 7 pt.  ``axes``: two matplotlib axes to draw
    into; if None a new figure is made.  Returns the figure."""
    import matplotlib.pyplot as plt

    r = _as_angles(recovered, "recovered")
    t = _as_angles(true, "true")
    agree = angle_agreement(r, t, max_coef=max_coef)
    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(3.3, 1.7), constrained_layout=True)
    else:
        axes = list(np.ravel(axes))
        if len(axes) != 2:
            raise ValueError(f"axes must hold 2 axes, got {len(axes)}")
        fig = axes[0].figure
    ticks, ticklabels = [0, np.pi, TWO_PI], ["0", r"$\pi$", r"$2\pi$"]
    for k, ax in enumerate(axes):
        p, q = agree["matrix"][k]
        combo = p * t[:, 0] + q * t[:, 1]
        shift = np.angle(np.exp(1j * (r[:, k] - combo)).sum())
        ax.scatter(np.mod(combo + shift, TWO_PI), np.mod(r[:, k], TWO_PI), s=1.5, lw=0,
                   alpha=0.6, color="C0", rasterized=True)
        ax.plot([0, TWO_PI], [0, TWO_PI], color="0.5", lw=0.6, ls="--")
        ax.set_xlim(0, TWO_PI)
        ax.set_ylim(0, TWO_PI)
        ax.set_aspect("equal")
        ax.set_xticks(ticks, ticklabels, fontsize=7)
        ax.set_yticks(ticks, ticklabels, fontsize=7)
        ax.set_xlabel("true " + _combo_label(p, q) + " + shift", fontsize=7)
        ax.set_ylabel(f"recovered $\\varphi_{k + 1}$", fontsize=7)
        ax.set_title(f"$|\\rho|$ = {agree['correlation'][k]:.3f}", fontsize=7)
        ax.tick_params(labelsize=7, length=2, pad=1)
    return fig
