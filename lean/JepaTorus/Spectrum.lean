import Mathlib

/-!
# The cycle symbol `2 - 2cos(2πk/N)` and the spectral gap `λ₁(N) = 2 - 2cos(2π/N)`

Everything here is about real numbers; the torus graph itself is in `JepaTorus.TorusGraph`.

* `cycleSymbol N k = 2 - 2cos(2πk/N)` is the eigenvalue of the `N`-cycle Laplacian on the
  Fourier mode of frequency `k`; the torus eigenvalue of mode `(j, k)` is
  `cycleSymbol N j + cycleSymbol N k` (`JepaTorus.Fourier`).
* `gap N = 2 - 2cos(2π/N)` is the spectral gap `λ₁`.

Main results:
* `cos_two_pi_mul_div_le` (the key lemma): `cos(2πk/N) ≤ cos(2π/N)` for `1 ≤ k ≤ N - 1`;
* `gap_le_cycleSymbol`, `gap_le_eigenvalue`: every non-constant mode has eigenvalue `≥ λ₁`;
* `gap_pos`, `gap_strictAnti`: `λ₁(N) > 0` and `λ₁` is strictly decreasing for `N ≥ 2`;
* `gap_eight`, `gap_twelve`, `gap_sixteen`: closed forms `2 - √2`, `2 - √3`, `2 - √(2 + √2)`,
  with the rounded values `0.586`, `0.268`, `0.152` as rational bounds.

Proof style: only `ring`, `linarith`, `nlinarith`, `positivity`, `push_cast` and a few
long-standing Mathlib lemmas (listed in `lean/README.md`); where a Mathlib lemma name has
moved between versions the proof tries alternatives with `first`. Every `nlinarith` is given
the products its certificate needs as hints (`tests/test_lean_scan.py` rejects a bare one), so
it never has to search for them.
-/

open scoped Real

namespace JepaTorus

/-- The angular step `2π/N` of the `N`-cycle. -/
noncomputable def stepAngle (N : ℕ) : ℝ := 2 * π / N

/-- Eigenvalue of the `N`-cycle Laplacian on the Fourier mode of frequency `k`:
`2 - 2cos(2πk/N)`. -/
noncomputable def cycleSymbol (N k : ℕ) : ℝ := 2 - 2 * Real.cos (2 * π * k / N)

/-- The spectral gap `λ₁(N) = 2 - 2cos(2π/N)` of the `N`-cycle and of the `N × N` torus. -/
noncomputable def gap (N : ℕ) : ℝ := 2 - 2 * Real.cos (2 * π / N)

lemma two_pi_mul_div_eq (N : ℕ) (x : ℝ) : 2 * π * x / N = stepAngle N * x := by
  unfold stepAngle
  ring

lemma stepAngle_mul_cast {N : ℕ} (hN : N ≠ 0) : stepAngle N * N = 2 * π := by
  have h : (N : ℝ) ≠ 0 := Nat.cast_ne_zero.mpr hN
  unfold stepAngle
  first
  | exact div_mul_cancel₀ (2 * π) h
  | field_simp

lemma stepAngle_pos {N : ℕ} (hN : N ≠ 0) : 0 < stepAngle N := by
  have h : (0 : ℝ) < N := by exact_mod_cast Nat.pos_of_ne_zero hN
  unfold stepAngle
  exact div_pos (by positivity) h

lemma gap_eq (N : ℕ) : gap N = 2 - 2 * Real.cos (stepAngle N) := rfl

lemma cycleSymbol_eq (N k : ℕ) : cycleSymbol N k = 2 - 2 * Real.cos (stepAngle N * k) := by
  unfold cycleSymbol
  rw [two_pi_mul_div_eq]

/-- The frequency-one mode has eigenvalue `λ₁`. -/
theorem cycleSymbol_one (N : ℕ) : cycleSymbol N 1 = gap N := by
  first
  | (rw [cycleSymbol_eq, gap_eq, Nat.cast_one, mul_one]; done)
  | simp [cycleSymbol, gap]

/-- The constant mode has eigenvalue `0`. -/
theorem cycleSymbol_zero (N : ℕ) : cycleSymbol N 0 = 0 := by
  first
  | (rw [cycleSymbol_eq, Nat.cast_zero, mul_zero, Real.cos_zero]; ring)
  | simp [cycleSymbol]

theorem cycleSymbol_nonneg (N k : ℕ) : 0 ≤ cycleSymbol N k := by
  rw [cycleSymbol_eq]
  linarith [Real.cos_le_one (stepAngle N * k)]

/-- **Key lemma.** For `1 ≤ k ≤ N - 1`, `cos(2πk/N) ≤ cos(2π/N)`.
For `2k ≤ N` both angles lie in `[0, π]`, where `cos` is antitone; otherwise
`cos(2πk/N) = cos(2π(N-k)/N)` and `2(N-k) < N`. -/
theorem cos_two_pi_mul_div_le {N k : ℕ} (hk : 1 ≤ k) (hkN : k < N) :
    Real.cos (2 * π * k / N) ≤ Real.cos (2 * π / N) := by
  have hN : N ≠ 0 := by omega
  have hω : stepAngle N * N = 2 * π := stepAngle_mul_cast hN
  have hω0 : 0 < stepAngle N := stepAngle_pos hN
  rw [two_pi_mul_div_eq]
  show Real.cos (stepAngle N * k) ≤ Real.cos (stepAngle N)
  have half : ∀ m : ℕ, 1 ≤ m → 2 * m ≤ N →
      Real.cos (stepAngle N * m) ≤ Real.cos (stepAngle N) := by
    intro m hm1 hm2
    have hm1' : (1 : ℝ) ≤ m := by exact_mod_cast hm1
    have hm2' : (2 : ℝ) * m ≤ N := by exact_mod_cast hm2
    have i1 : stepAngle N * 1 ≤ stepAngle N * m := mul_le_mul_of_nonneg_left hm1' hω0.le
    have i2 : stepAngle N * (2 * m) ≤ stepAngle N * N := mul_le_mul_of_nonneg_left hm2' hω0.le
    apply Real.cos_le_cos_of_nonneg_of_le_pi hω0.le
    -- linear in the monomials `stepAngle N * m`, `stepAngle N * N` (using `i1`, `i2`, `hω`)
    · linarith
    · linarith
  rcases le_or_gt (2 * k) N with h | h
  · exact half k hk h
  · have hm := half (N - k) (by omega) (by omega)
    have hcast : ((N - k : ℕ) : ℝ) = (N : ℝ) - k := Nat.cast_sub hkN.le
    have e : stepAngle N * k = 2 * π - stepAngle N * ((N - k : ℕ) : ℝ) := by
      rw [hcast, ← hω]
      ring
    rw [e, Real.cos_two_pi_sub]
    exact hm

/-- Every non-zero frequency `1 ≤ k ≤ N - 1` of the cycle has eigenvalue at least `λ₁`. -/
theorem gap_le_cycleSymbol {N k : ℕ} (hk : 1 ≤ k) (hkN : k < N) : gap N ≤ cycleSymbol N k := by
  have h := cos_two_pi_mul_div_le hk hkN
  unfold gap cycleSymbol
  linarith

/-- The Laplacian symbol `μ(j,k) = (2 - 2cos(2πj/N)) + (2 - 2cos(2πk/N))` is at least `λ₁` at
every frequency `(j, k) ≠ (0, 0)` with `0 ≤ j, k < N`; this is why a weight `W = μ(Δ)` gives
every pair of distinct torus sites at least the gap. -/
theorem gap_le_eigenvalue {N j k : ℕ} (hj : j < N) (hk : k < N) (h : j ≠ 0 ∨ k ≠ 0) :
    gap N ≤ cycleSymbol N j + cycleSymbol N k := by
  rcases h with h | h
  · have h1 := gap_le_cycleSymbol (N := N) (k := j) (by omega) hj
    have h2 := cycleSymbol_nonneg N k
    linarith
  · have h1 := gap_le_cycleSymbol (N := N) (k := k) (by omega) hk
    have h2 := cycleSymbol_nonneg N j
    linarith

/-- `λ₁(N) > 0` for `N ≥ 2` (so for every grid the project uses, `N ≥ 3`). -/
theorem gap_pos {N : ℕ} (hN : 2 ≤ N) : 0 < gap N := by
  have hN0 : N ≠ 0 := by omega
  have hω : stepAngle N * N = 2 * π := stepAngle_mul_cast hN0
  have hω0 : 0 < stepAngle N := stepAngle_pos hN0
  have hN' : (2 : ℝ) ≤ N := by exact_mod_cast hN
  have i1 : stepAngle N * 2 ≤ stepAngle N * N := mul_le_mul_of_nonneg_left hN' hω0.le
  have hle : stepAngle N ≤ π := by linarith
  have h := Real.cos_lt_cos_of_nonneg_of_le_pi (le_refl 0) hle hω0
  rw [Real.cos_zero] at h
  rw [gap_eq]
  linarith

/-- `λ₁` is strictly decreasing in `N` on `N ≥ 2`. -/
theorem gap_strictAnti {M N : ℕ} (hM : 2 ≤ M) (hMN : M < N) : gap N < gap M := by
  have hM0 : M ≠ 0 := by omega
  have hN0 : N ≠ 0 := by omega
  have hωM : stepAngle M * M = 2 * π := stepAngle_mul_cast hM0
  have hωN : stepAngle N * N = 2 * π := stepAngle_mul_cast hN0
  have hM0' : 0 < stepAngle M := stepAngle_pos hM0
  have hN0' : 0 < stepAngle N := stepAngle_pos hN0
  have hM' : (2 : ℝ) ≤ M := by exact_mod_cast hM
  have hMN' : (M : ℝ) < N := by exact_mod_cast hMN
  have hMpos : (0 : ℝ) < M := by linarith
  have i1 : stepAngle M * 2 ≤ stepAngle M * M := mul_le_mul_of_nonneg_left hM' hM0'.le
  have hle : stepAngle M ≤ π := by linarith
  have hlt : stepAngle N < stepAngle M := by
    first
    | (unfold stepAngle; exact div_lt_div_of_pos_left (by positivity) hMpos hMN')
    | nlinarith [mul_lt_mul_of_pos_left hMN' hN0', mul_lt_mul_of_pos_left hMN' hM0']
  have h := Real.cos_lt_cos_of_nonneg_of_le_pi hN0'.le hle hlt
  rw [gap_eq, gap_eq]
  linarith

theorem gap_strictAntiOn : StrictAntiOn gap {n : ℕ | 2 ≤ n} :=
  fun _ ha _ _ hab => gap_strictAnti ha hab

/-- The three grids of the paper: `λ₁(8) > λ₁(12) > λ₁(16)`, as real numbers. -/
theorem gap_sixteen_lt_twelve_lt_eight : gap 16 < gap 12 ∧ gap 12 < gap 8 :=
  ⟨gap_strictAnti (by norm_num) (by norm_num), gap_strictAnti (by norm_num) (by norm_num)⟩

/-- `λ₁(8) = 2 - √2`. -/
theorem gap_eight : gap 8 = 2 - Real.sqrt 2 := by
  have h : 2 * π / ((8 : ℕ) : ℝ) = π / 4 := by
    push_cast
    ring
  unfold gap
  rw [h, Real.cos_pi_div_four]
  ring

/-- `λ₁(12) = 2 - √3`. -/
theorem gap_twelve : gap 12 = 2 - Real.sqrt 3 := by
  have h : 2 * π / ((12 : ℕ) : ℝ) = π / 6 := by
    push_cast
    ring
  unfold gap
  rw [h, Real.cos_pi_div_six]
  ring

/-- `λ₁(16) = 2 - √(2 + √2)`. -/
theorem gap_sixteen : gap 16 = 2 - Real.sqrt (2 + Real.sqrt 2) := by
  have h : 2 * π / ((16 : ℕ) : ℝ) = π / 8 := by
    push_cast
    ring
  unfold gap
  rw [h, Real.cos_pi_div_eight]
  ring

/-! ### Rational bounds on the square roots

Each bound has a degree-2 certificate; its one product is passed to `nlinarith` as a hint (the
square facts `x² = y` are hypotheses in context), so nothing is left to its product search:
* `x < a` for `x = √y ≥ 0` (with `a² > y`): `0 ≤ (x - a)²` and `x² = y` give
  `2a·x ≤ y + a² < 2a²`;
* then `b < x` (with `a·b < y`): `0 ≤ x·(a - x)` and `x² = y` give `a·x ≥ y > a·b`. -/

/-- `1.4141 < √2 < 1.4143`. -/
lemma sqrt_two_bounds : (14141 / 10000 : ℝ) < Real.sqrt 2 ∧ Real.sqrt 2 < 14143 / 10000 := by
  have h2 : Real.sqrt 2 ^ 2 = 2 := Real.sq_sqrt (by norm_num)
  have h0 : 0 ≤ Real.sqrt 2 := Real.sqrt_nonneg 2
  have hhi : Real.sqrt 2 < 14143 / 10000 := by
    nlinarith [sq_nonneg (Real.sqrt 2 - 14143 / 10000)]
  have hlo : (14141 / 10000 : ℝ) < Real.sqrt 2 := by
    nlinarith [mul_nonneg h0 (sub_nonneg.2 hhi.le)]
  exact ⟨hlo, hhi⟩

/-- `λ₁(8) = 0.586` to three decimals. -/
theorem gap_eight_bounds : (5855 / 10000 : ℝ) < gap 8 ∧ gap 8 < 5865 / 10000 := by
  rw [gap_eight]
  obtain ⟨hlo, hhi⟩ := sqrt_two_bounds
  constructor <;> linarith

/-- `λ₁(12) = 0.268` to three decimals. -/
theorem gap_twelve_bounds : (2675 / 10000 : ℝ) < gap 12 ∧ gap 12 < 2685 / 10000 := by
  rw [gap_twelve]
  have h3 : Real.sqrt 3 ^ 2 = 3 := Real.sq_sqrt (by norm_num)
  have h0 : 0 ≤ Real.sqrt 3 := Real.sqrt_nonneg 3
  have hhi : Real.sqrt 3 < 17321 / 10000 := by
    nlinarith [sq_nonneg (Real.sqrt 3 - 17321 / 10000)]
  have hlo : (17319 / 10000 : ℝ) < Real.sqrt 3 := by
    nlinarith [mul_nonneg h0 (sub_nonneg.2 hhi.le)]
  constructor <;> linarith

/-- `λ₁(16) = 0.152` to three decimals. -/
theorem gap_sixteen_bounds : (1515 / 10000 : ℝ) < gap 16 ∧ gap 16 < 1525 / 10000 := by
  rw [gap_sixteen]
  obtain ⟨hs_lo, hs_hi⟩ := sqrt_two_bounds
  have ht2 : Real.sqrt (2 + Real.sqrt 2) ^ 2 = 2 + Real.sqrt 2 := Real.sq_sqrt (by linarith)
  have ht0 : 0 ≤ Real.sqrt (2 + Real.sqrt 2) := Real.sqrt_nonneg _
  -- as above, with `2 + √2 < 3.4143` in place of the exact square
  have ht_hi : Real.sqrt (2 + Real.sqrt 2) < 18478 / 10000 := by
    nlinarith [sq_nonneg (Real.sqrt (2 + Real.sqrt 2) - 18478 / 10000)]
  have ht_lo : (18475 / 10000 : ℝ) < Real.sqrt (2 + Real.sqrt 2) := by
    nlinarith [mul_nonneg ht0 (sub_nonneg.2 ht_hi.le)]
  constructor <;> linarith

end JepaTorus
