import Mathlib
import JepaTorus.Spectrum

/-!
# The diversity bound for the torus-Laplacian covariance penalty

Let `R` be a real symmetric matrix with unit diagonal (a correlation matrix; positive
semidefiniteness is not needed) indexed by any finite type `ι` of size `D`, and `W` a weight
matrix with `W i j ≥ λ` for all `i ≠ j`, `λ > 0`. The penalty is
`P(R) = Σ_{i ≠ j} W i j · R i j²`.

* (i)  `frobSq_le_penalty`: `λ ‖R - I‖_F² ≤ P(R)`;
* (ii) `participationRatio_eq`: the participation-ratio effective rank
       `PR(R) = (tr R)² / tr(R²)` equals `D² / (D + ‖R - I‖_F²)`, and
       `participationRatio_ge`: `PR(R) ≥ D² / (D + P(R)/λ)`.
* (iii) (every eigenvalue of `R` lies within `√(P/λ)` of `1`) is **not** formalised here; it
       follows from (i) and `‖R - I‖₂ ≤ ‖R - I‖_F` and is checked numerically in
       `tests/test_geometry_twins.py`.

For the toroidal weights: `torusWeight N s t = μ(s - t)` (the Laplacian symbol of the
displacement) is `≥ λ₁(N)` for distinct sites (`gap_le_torusWeight`, from the key lemma), and
the floored weights `toroidalWeights` (`max(μ, λ₁)` off the diagonal, as in
`jepa_torus.geometry.toroidal_weights`) satisfy the hypothesis for every pair of distinct
dimensions, shared sites included (`toroidal_diversity`).
-/

open scoped Matrix

namespace JepaTorus

section Proposition

variable {ι : Type*} [Fintype ι]

/-- Squared Frobenius norm `‖A‖_F² = Σ_{i,j} A i j²`. -/
noncomputable def frobSq (A : Matrix ι ι ℝ) : ℝ := ∑ i, ∑ j, A i j ^ 2

/-- Participation-ratio effective rank `(tr R)² / tr(R²)`. -/
noncomputable def participationRatio (R : Matrix ι ι ℝ) : ℝ :=
  Matrix.trace R ^ 2 / Matrix.trace (R * R)

lemma frobSq_nonneg (A : Matrix ι ι ℝ) : 0 ≤ frobSq A :=
  Finset.sum_nonneg (fun i _ => Finset.sum_nonneg (fun j _ => sq_nonneg (A i j)))

lemma trace_eq_card (R : Matrix ι ι ℝ) (hdiag : ∀ i, R i i = 1) :
    Matrix.trace R = Fintype.card ι := by
  show ∑ i, R i i = _
  -- `Σ_i 1 = |univ| • 1 = card ι`, spelled out rather than left to `simp`'s normal form
  simp only [hdiag, Finset.sum_const, Finset.card_univ, nsmul_eq_mul, mul_one]

/- Declared only from here on: the lemmas above never decide `i = j`, and an instance variable
in scope would be added to them anyway (and reported by the unused-section-variable linter). -/
variable [DecidableEq ι]

/-- The weighted off-diagonal penalty `P(R) = Σ_{i ≠ j} W i j · R i j²`. -/
noncomputable def penalty (W R : Matrix ι ι ℝ) : ℝ :=
  ∑ i, ∑ j, if i = j then 0 else W i j * R i j ^ 2

/-- For unit diagonal, `‖R - I‖_F²` is the sum of the squared off-diagonal entries. -/
lemma frobSq_sub_one (R : Matrix ι ι ℝ) (hdiag : ∀ i, R i i = 1) :
    frobSq (R - 1) = ∑ i, ∑ j, if i = j then 0 else R i j ^ 2 := by
  unfold frobSq
  apply Finset.sum_congr rfl
  intro i _
  apply Finset.sum_congr rfl
  intro j _
  by_cases h : i = j
  · subst h
    simp [hdiag]
  · simp [h, Matrix.one_apply]

/-- **Part (i).** If `W i j ≥ λ` for all `i ≠ j` then `λ ‖R - I‖_F² ≤ P(R)`. -/
theorem frobSq_le_penalty (lam : ℝ) (W R : Matrix ι ι ℝ) (hdiag : ∀ i, R i i = 1)
    (hW : ∀ i j, i ≠ j → lam ≤ W i j) : lam * frobSq (R - 1) ≤ penalty W R := by
  rw [frobSq_sub_one R hdiag, Finset.mul_sum]
  unfold penalty
  apply Finset.sum_le_sum
  intro i _
  rw [Finset.mul_sum]
  apply Finset.sum_le_sum
  intro j _
  by_cases h : i = j
  · simp [h]
  · simp only [if_neg h]
    exact mul_le_mul_of_nonneg_right (hW i j h) (sq_nonneg _)

/-- For symmetric `R` with unit diagonal, `tr(R²) = Σ_{i,j} R i j² = D + ‖R - I‖_F²`. -/
lemma trace_mul_self (R : Matrix ι ι ℝ) (hsymm : ∀ i j, R i j = R j i)
    (hdiag : ∀ i, R i i = 1) :
    Matrix.trace (R * R) = Fintype.card ι + frobSq (R - 1) := by
  rw [frobSq_sub_one R hdiag]
  have h1 : Matrix.trace (R * R) = ∑ i, ∑ j, R i j ^ 2 := by
    show ∑ i, (R * R) i i = _
    apply Finset.sum_congr rfl
    intro i _
    rw [Matrix.mul_apply]
    apply Finset.sum_congr rfl
    intro j _
    rw [hsymm j i]
    ring
  have h2 : ∀ i j, R i j ^ 2 =
      (if i = j then (1 : ℝ) else 0) + (if i = j then 0 else R i j ^ 2) := by
    intro i j
    by_cases h : i = j
    · subst h
      simp [hdiag]
    · simp [h]
  rw [h1]
  calc ∑ i, ∑ j, R i j ^ 2
      = ∑ i, ∑ j, ((if i = j then (1 : ℝ) else 0) + (if i = j then 0 else R i j ^ 2)) := by
        apply Finset.sum_congr rfl
        intro i _
        apply Finset.sum_congr rfl
        intro j _
        exact h2 i j
    _ = ∑ i, (1 + ∑ j, (if i = j then 0 else R i j ^ 2)) := by
        apply Finset.sum_congr rfl
        intro i _
        rw [Finset.sum_add_distrib]
        first
        | (rw [Fintype.sum_ite_eq]; done)
        | simp
    _ = Fintype.card ι + ∑ i, ∑ j, (if i = j then 0 else R i j ^ 2) := by
        rw [Finset.sum_add_distrib, Finset.sum_const, Finset.card_univ, nsmul_eq_mul, mul_one]

/-- **Part (ii), identity.** `PR(R) = D² / (D + ‖R - I‖_F²)`. -/
theorem participationRatio_eq (R : Matrix ι ι ℝ) (hsymm : ∀ i j, R i j = R j i)
    (hdiag : ∀ i, R i i = 1) :
    participationRatio R = (Fintype.card ι : ℝ) ^ 2 / (Fintype.card ι + frobSq (R - 1)) := by
  unfold participationRatio
  rw [trace_eq_card R hdiag, trace_mul_self R hsymm hdiag]

/-- **Part (ii), bound.** If `W i j ≥ λ > 0` for all `i ≠ j` then
`PR(R) ≥ D² / (D + P(R)/λ)`. -/
theorem participationRatio_ge (lam : ℝ) (hlam : 0 < lam) (W R : Matrix ι ι ℝ)
    (hsymm : ∀ i j, R i j = R j i) (hdiag : ∀ i, R i i = 1)
    (hW : ∀ i j, i ≠ j → lam ≤ W i j) :
    (Fintype.card ι : ℝ) ^ 2 / (Fintype.card ι + penalty W R / lam) ≤ participationRatio R := by
  rw [participationRatio_eq R hsymm hdiag]
  have h1 : lam * frobSq (R - 1) ≤ penalty W R := frobSq_le_penalty lam W R hdiag hW
  have hF0 : 0 ≤ frobSq (R - 1) := frobSq_nonneg _
  have hF : frobSq (R - 1) ≤ penalty W R / lam := by
    first
    | exact (le_div_iff₀ hlam).2 (by linarith)
    | exact (le_div_iff₀' hlam).2 h1
    | (calc frobSq (R - 1) = lam * frobSq (R - 1) / lam := (mul_div_cancel_left₀ _ hlam.ne').symm
        _ ≤ penalty W R / lam := (div_le_div_iff_of_pos_right hlam).2 h1)
  rcases Nat.eq_zero_or_pos (Fintype.card ι) with h0 | hpos
  · -- `D = 0`: both sides are `0 / _ = 0`. Proved as an equation so that the closing `rfl` of
    -- `rw` is on `0 = 0` (whether `rw` would also close `0 ≤ 0` depends on `@[refl]` tags).
    apply le_of_eq
    rw [h0, Nat.cast_zero, sq, zero_mul, zero_div, zero_div]
  · have hD : (0 : ℝ) < Fintype.card ι := by exact_mod_cast hpos
    have hc : (0 : ℝ) < Fintype.card ι + frobSq (R - 1) := by linarith
    have hcb : (Fintype.card ι : ℝ) + frobSq (R - 1) ≤ Fintype.card ι + penalty W R / lam := by
      linarith
    first
    | exact div_le_div_of_nonneg_left (sq_nonneg _) hc hcb
    | (gcongr; exact hcb)
    | gcongr

end Proposition

section Toroidal

variable {N : ℕ}

/-- Weight of the pair of sites `s, t`: the Laplacian symbol `μ` of their displacement,
`(2 - 2cos(2π Δx/N)) + (2 - 2cos(2π Δy/N))`, with `Δ = s - t` in `Fin N × Fin N`. -/
noncomputable def torusWeight (N : ℕ) (s t : Fin N × Fin N) : ℝ :=
  cycleSymbol N ((s.1 - t.1 : Fin N) : ℕ) + cycleSymbol N ((s.2 - t.2 : Fin N) : ℕ)

section DistinctSites

/- Only the two statements about `torusWeight` itself need `0 : Fin N` and the additive group
`Fin N`; the floored weights below do not, so the instance is scoped to this section. -/
variable [NeZero N]

/-- Distinct sites get weight at least the spectral gap. -/
theorem gap_le_torusWeight {s t : Fin N × Fin N} (h : s ≠ t) : gap N ≤ torusWeight N s t := by
  unfold torusWeight
  apply gap_le_eigenvalue (Fin.is_lt _) (Fin.is_lt _)
  by_contra hc
  push_neg at hc
  apply h
  /- `torusWeight` is elaborated without `NeZero N`, so its `s.1 - t.1` is `Fin`'s own
  subtraction `Fin.sub`; `sub_eq_zero` is about the subtraction of the group `Fin N`. Mathlib
  defines that group's `sub` as `Fin.sub`, so the two agree by unfolding: state `hz` with
  `Fin.sub` and let `exact` (which unifies up to unfolding) do the conversion, rather than ask
  `rw` to match the two instances. -/
  have h1 : s.1 = t.1 := by
    have hz : Fin.sub s.1 t.1 = 0 := Fin.ext (hc.1.trans (Fin.val_zero (n := N)).symm)
    exact sub_eq_zero.mp hz
  have h2 : s.2 = t.2 := by
    have hz : Fin.sub s.2 t.2 = 0 := Fin.ext (hc.2.trans (Fin.val_zero (n := N)).symm)
    exact sub_eq_zero.mp hz
  first
  | exact Prod.ext h1 h2
  | exact Prod.ext_iff.mpr ⟨h1, h2⟩

/-- Without the floor, an injective placement already satisfies the hypothesis. -/
theorem torusWeight_ge_gap_of_injective {ι : Type*} {site : ι → Fin N × Fin N}
    (hsite : Function.Injective site) :
    ∀ i j, i ≠ j → gap N ≤ torusWeight N (site i) (site j) :=
  fun i j h => gap_le_torusWeight (fun h' => h (hsite h'))

end DistinctSites

/-- The toroidal weight matrix of `D` embedding dimensions placed at torus sites by `site`:
`max(μ(site i - site j), λ₁)` off the diagonal, `0` on it (the floor only matters for distinct
dimensions sharing a site). -/
noncomputable def toroidalWeights {ι : Type*} [DecidableEq ι] (N : ℕ) (site : ι → Fin N × Fin N) :
    Matrix ι ι ℝ :=
  Matrix.of fun i j => if i = j then 0 else max (torusWeight N (site i) (site j)) (gap N)

theorem toroidalWeights_ge_gap {ι : Type*} [DecidableEq ι] (site : ι → Fin N × Fin N) :
    ∀ i j, i ≠ j → gap N ≤ toroidalWeights N site i j := by
  intro i j h
  simp only [toroidalWeights, Matrix.of_apply, if_neg h]
  exact le_max_right _ _

/-- **The proposition for the torus regulariser.** For `N ≥ 2`, any placement of the
dimensions and any symmetric unit-diagonal `R`:
`λ₁ ‖R - I‖_F² ≤ P(R)` and `PR(R) ≥ D² / (D + P(R)/λ₁)`. -/
theorem toroidal_diversity {ι : Type*} [Fintype ι] [DecidableEq ι] (hN : 2 ≤ N)
    (site : ι → Fin N × Fin N) (R : Matrix ι ι ℝ) (hsymm : ∀ i j, R i j = R j i)
    (hdiag : ∀ i, R i i = 1) :
    gap N * frobSq (R - 1) ≤ penalty (toroidalWeights N site) R ∧
      (Fintype.card ι : ℝ) ^ 2 / (Fintype.card ι + penalty (toroidalWeights N site) R / gap N) ≤
        participationRatio R :=
  ⟨frobSq_le_penalty _ _ _ hdiag (toroidalWeights_ge_gap site),
    participationRatio_ge _ (gap_pos hN) _ _ hsymm hdiag (toroidalWeights_ge_gap site)⟩

end Toroidal

end JepaTorus
