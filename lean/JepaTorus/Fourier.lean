import Mathlib
import JepaTorus.Spectrum
import JepaTorus.TorusGraph

/-!
# Fourier modes are eigenvectors of the torus Laplacian

For a frequency `(j, k)` the vectors
`v(x₁, x₂) = cos(2π(j x₁ + k x₂)/N)` and `sin(2π(j x₁ + k x₂)/N)` (with `x₁, x₂ ∈ {0, …, N-1}`
the values of the `Fin N` coordinates) satisfy `L v = μ v` with
`μ = (2 - 2cos(2πj/N)) + (2 - 2cos(2πk/N)) = cycleSymbol N j + cycleSymbol N k`.

The only subtlety is the wrap-around: the value of `x + 1 : Fin N` is `(x + 1) mod N`, so the
integer phase `j x₁ + k x₂` of a neighbour agrees with the shifted phase only modulo `N`
(`phase_add_e₁`, `phase_add_e₂`); since `cos` and `sin` are `2π`-periodic this does not change
the value (`periodic_congr`). The rest is `cos(θ + a) + cos(θ - a) = 2 cos θ cos a` (and the
same for `sin`).
-/

open scoped Real Matrix

namespace JepaTorus

/-- The integer phase `j x₁ + k x₂` of site `p = (x₁, x₂)`. -/
def phase {N : ℕ} (j k : ℕ) (p : Fin N × Fin N) : ℕ := j * (p.1 : ℕ) + k * (p.2 : ℕ)

/-- The cosine Fourier mode `p ↦ cos(2π(j x₁ + k x₂)/N)`. -/
noncomputable def fourierCos (N j k : ℕ) (p : Fin N × Fin N) : ℝ :=
  Real.cos (2 * π * ((j * (p.1 : ℕ) + k * (p.2 : ℕ) : ℕ) : ℝ) / N)

/-- The sine Fourier mode `p ↦ sin(2π(j x₁ + k x₂)/N)`. -/
noncomputable def fourierSin (N j k : ℕ) (p : Fin N × Fin N) : ℝ :=
  Real.sin (2 * π * ((j * (p.1 : ℕ) + k * (p.2 : ℕ) : ℕ) : ℝ) / N)

lemma cos_add_add_cos_sub (θ a : ℝ) :
    Real.cos (θ + a) + Real.cos (θ - a) = 2 * Real.cos θ * Real.cos a := by
  rw [Real.cos_add, Real.cos_sub]
  ring

lemma sin_add_add_sin_sub (θ a : ℝ) :
    Real.sin (θ + a) + Real.sin (θ - a) = 2 * Real.sin θ * Real.cos a := by
  rw [Real.sin_add, Real.sin_sub]
  ring

section Modes

variable {N : ℕ}

lemma fourierCos_apply (j k : ℕ) (q : Fin N × Fin N) :
    fourierCos N j k q = Real.cos (stepAngle N * (phase j k q : ℝ)) := by
  show Real.cos (2 * π * (phase j k q : ℝ) / N) = _
  rw [two_pi_mul_div_eq]

lemma fourierSin_apply (j k : ℕ) (q : Fin N × Fin N) :
    fourierSin N j k q = Real.sin (stepAngle N * (phase j k q : ℝ)) := by
  show Real.sin (2 * π * (phase j k q : ℝ) / N) = _
  rw [two_pi_mul_div_eq]

/- Declared only from here on: the lemmas above do not use it, and an instance variable in
scope would be added to them anyway (and reported by the unused-section-variable linter). The
ones below need it for `1 : Fin N` (the neighbours `p ± e₁`, `p ± e₂`) or for `N ≠ 0`. -/
variable [NeZero N]

/-- The value of `a + 1 : Fin N` is `a + 1` modulo `N`. -/
lemma val_add_one_modEq (a : Fin N) : ((a + 1 : Fin N) : ℕ) ≡ (a : ℕ) + 1 [MOD N] := by
  have h1 : ((a + 1 : Fin N) : ℕ) = ((a : ℕ) + ((1 : Fin N) : ℕ)) % N := Fin.val_add a 1
  have h2 : ((1 : Fin N) : ℕ) = 1 % N := by
    first
    | exact Fin.val_one' N
    | rfl
  rw [h1, h2]
  exact (Nat.mod_modEq _ _).trans (Nat.ModEq.add_left _ (Nat.mod_modEq 1 N))

lemma phase_add_e₁ (j k : ℕ) (p : Fin N × Fin N) :
    phase j k (p + e₁ N) ≡ phase j k p + j [MOD N] := by
  have e : phase j k (p + e₁ N) = j * ((p.1 + 1 : Fin N) : ℕ) + k * (p.2 : ℕ) := by
    unfold phase
    rw [add_e₁_fst, add_e₁_snd]
  have h2 : phase j k p + j = j * ((p.1 : ℕ) + 1) + k * (p.2 : ℕ) := by
    unfold phase
    ring
  rw [e, h2]
  exact ((val_add_one_modEq p.1).mul_left j).add_right _

lemma phase_add_e₂ (j k : ℕ) (p : Fin N × Fin N) :
    phase j k (p + e₂ N) ≡ phase j k p + k [MOD N] := by
  have e : phase j k (p + e₂ N) = j * (p.1 : ℕ) + k * ((p.2 + 1 : Fin N) : ℕ) := by
    unfold phase
    rw [add_e₂_fst, add_e₂_snd]
  have h2 : phase j k p + k = j * (p.1 : ℕ) + k * ((p.2 : ℕ) + 1) := by
    unfold phase
    ring
  rw [e, h2]
  exact ((val_add_one_modEq p.2).mul_left k).add_left _

/-- A `2π`-periodic function of `2π m/N` only depends on `m mod N`. -/
lemma periodic_congr {f : ℝ → ℝ} (hf : Function.Periodic f (2 * π)) {m m' : ℕ}
    (h : m ≡ m' [MOD N]) (c : ℝ) :
    f (stepAngle N * (m : ℝ) + c) = f (stepAngle N * (m' : ℝ) + c) := by
  have hω : stepAngle N * N = 2 * π := stepAngle_mul_cast (NeZero.ne N)
  have key : ∀ n : ℕ, f (stepAngle N * (n : ℝ) + c) = f (stepAngle N * ((n % N : ℕ) : ℝ) + c) := by
    intro n
    have hn : (n : ℝ) = ((n % N : ℕ) : ℝ) + (N : ℝ) * ((n / N : ℕ) : ℝ) := by
      first
      | exact_mod_cast (Nat.mod_add_div n N).symm
      | rw [← Nat.cast_mul, ← Nat.cast_add, Nat.mod_add_div]
    have hx : stepAngle N * (n : ℝ) + c =
        (stepAngle N * ((n % N : ℕ) : ℝ) + c) + ((n / N : ℕ) : ℝ) * (2 * π) := by
      rw [hn, ← hω]
      ring
    rw [hx]
    exact hf.nat_mul (n / N) _
  have h' : m % N = m' % N := h
  rw [key m, key m', h']

lemma shift_add {f : ℝ → ℝ} (hf : Function.Periodic f (2 * π)) {j k s : ℕ}
    {e : Fin N × Fin N} (he : ∀ q : Fin N × Fin N, phase j k (q + e) ≡ phase j k q + s [MOD N])
    (p : Fin N × Fin N) :
    f (stepAngle N * (phase j k (p + e) : ℝ)) =
      f (stepAngle N * (phase j k p : ℝ) + stepAngle N * s) := by
  calc f (stepAngle N * (phase j k (p + e) : ℝ))
      = f (stepAngle N * (phase j k (p + e) : ℝ) + 0) := by rw [add_zero]
    _ = f (stepAngle N * ((phase j k p + s : ℕ) : ℝ) + 0) := periodic_congr hf (he p) 0
    _ = f (stepAngle N * (phase j k p : ℝ) + stepAngle N * s) := by
        congr 1
        push_cast
        ring

lemma shift_sub {f : ℝ → ℝ} (hf : Function.Periodic f (2 * π)) {j k s : ℕ}
    {e : Fin N × Fin N} (he : ∀ q : Fin N × Fin N, phase j k (q + e) ≡ phase j k q + s [MOD N])
    (p : Fin N × Fin N) :
    f (stepAngle N * (phase j k (p - e) : ℝ)) =
      f (stepAngle N * (phase j k p : ℝ) - stepAngle N * s) := by
  have h1 : phase j k (p - e) + s ≡ phase j k p [MOD N] := by
    have h := he (p - e)
    rw [sub_add_cancel] at h
    exact h.symm
  calc f (stepAngle N * (phase j k (p - e) : ℝ))
      = f (stepAngle N * ((phase j k (p - e) + s : ℕ) : ℝ) + -(stepAngle N * s)) := by
        congr 1
        push_cast
        ring
    _ = f (stepAngle N * (phase j k p : ℝ) + -(stepAngle N * s)) := periodic_congr hf h1 _
    -- Not `congr 1; ring`: on ℝ, `a - b` unfolds to `a + -b`, so `congr` may close this goal
    -- by `rfl` on its own and the `ring` after it would then fail with "no goals".
    _ = f (stepAngle N * (phase j k p : ℝ) - stepAngle N * s) :=
        congrArg f (sub_eq_add_neg _ _).symm

/-- **Eigen-equation for a general mode.** If `f` is `2π`-periodic and
`f(θ + a) + f(θ - a) = 2 f(θ) cos a` (true for `cos` and `sin`), then
`v(p) = f(2π(j x₁ + k x₂)/N)` satisfies `(L v)(p) = μ v(p)`. -/
theorem laplacian_mulVec_mode {f : ℝ → ℝ} (hf : Function.Periodic f (2 * π))
    (hsum : ∀ θ a : ℝ, f (θ + a) + f (θ - a) = 2 * f θ * Real.cos a) (j k : ℕ)
    (p : Fin N × Fin N) :
    (laplacian N *ᵥ fun q => f (stepAngle N * (phase j k q : ℝ))) p =
      (cycleSymbol N j + cycleSymbol N k) * f (stepAngle N * (phase j k p : ℝ)) := by
  rw [laplacian_mulVec]
  try dsimp only
  rw [shift_add hf (phase_add_e₁ j k) p, shift_sub hf (phase_add_e₁ j k) p,
    shift_add hf (phase_add_e₂ j k) p, shift_sub hf (phase_add_e₂ j k) p]
  simp only [cycleSymbol_eq]
  have h1 := hsum (stepAngle N * (phase j k p : ℝ)) (stepAngle N * j)
  have h2 := hsum (stepAngle N * (phase j k p : ℝ)) (stepAngle N * k)
  first
  | linear_combination (-1 : ℝ) * h1 - h2
  | linarith
  | nlinarith [h1, h2]

/-- **Cosine modes are eigenvectors:** `L v = μ v` for `v = cos(2π(j x₁ + k x₂)/N)`,
`μ = (2 - 2cos(2πj/N)) + (2 - 2cos(2πk/N))`. -/
theorem laplacian_mulVec_fourierCos (j k : ℕ) :
    laplacian N *ᵥ fourierCos N j k = (cycleSymbol N j + cycleSymbol N k) • fourierCos N j k := by
  funext p
  have h := laplacian_mulVec_mode Real.cos_periodic cos_add_add_cos_sub j k p
  have hv : fourierCos N j k = fun q => Real.cos (stepAngle N * (phase j k q : ℝ)) :=
    funext (fourierCos_apply j k)
  first
  | (rw [hv, Pi.smul_apply, smul_eq_mul]; exact h)
  | (rw [hv]; exact h)
  | (simp only [hv, Pi.smul_apply, smul_eq_mul]; exact h)

/-- **Sine modes are eigenvectors** with the same eigenvalue (the sine mode is the zero
vector for a few frequencies, e.g. `(0, 0)`; the equation then holds trivially). -/
theorem laplacian_mulVec_fourierSin (j k : ℕ) :
    laplacian N *ᵥ fourierSin N j k = (cycleSymbol N j + cycleSymbol N k) • fourierSin N j k := by
  funext p
  have h := laplacian_mulVec_mode Real.sin_periodic sin_add_add_sin_sub j k p
  have hv : fourierSin N j k = fun q => Real.sin (stepAngle N * (phase j k q : ℝ)) :=
    funext (fourierSin_apply j k)
  first
  | (rw [hv, Pi.smul_apply, smul_eq_mul]; exact h)
  | (rw [hv]; exact h)
  | (simp only [hv, Pi.smul_apply, smul_eq_mul]; exact h)

end Modes

/-- The mode `(1, 0)` has eigenvalue exactly the spectral gap `λ₁ = 2 - 2cos(2π/N)`. -/
theorem eigenvalue_one_zero {N : ℕ} : cycleSymbol N 1 + cycleSymbol N 0 = gap N := by
  rw [cycleSymbol_one, cycleSymbol_zero, add_zero]

end JepaTorus
