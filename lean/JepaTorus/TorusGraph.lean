import Mathlib

/-!
# The `N × N` torus graph `C_N × C_N` and its Laplacian

Sites are `Fin N × Fin N` (with `Fin N` the integers mod `N`); site `(x, y)` is joined to
`(x ± 1, y)` and `(x, y ± 1)`. The adjacency matrix counts the four neighbours
`p + e₁, p - e₁, p + e₂, p - e₂` (with multiplicity, which only matters for `N ≤ 2`; for
`N ≥ 3` they are four distinct sites and `adjacency` is the 0/1 adjacency matrix of the simple
4-regular graph, which `tests/test_geometry_twins.py` checks against `jepa_torus.geometry`).
The Laplacian is `L = 4I - A`.

Main results:
* `laplacian_mulVec`: `(L v)(p) = 4 v(p) - v(p+e₁) - v(p-e₁) - v(p+e₂) - v(p-e₂)`;
* `laplacian_isSymm`, `laplacian_apply_symm`: `L` is symmetric;
* `laplacian_row_sum`, `laplacian_mulVec_const`: rows sum to `0`;
* `laplacian_quadratic_form`: `xᵀ L x = Σ_p (x p - x (p+e₁))² + (x p - x (p+e₂))²`, the sum over
  the `2N²` edges `{p, p + e_d}` of the squared differences;
* `laplacian_quadratic_nonneg`: hence `0 ≤ xᵀ L x` (positive semidefinite).
-/

open scoped Matrix

namespace JepaTorus

/-- Unit step in the first coordinate. -/
def e₁ (N : ℕ) [NeZero N] : Fin N × Fin N := (1, 0)

/-- Unit step in the second coordinate. -/
def e₂ (N : ℕ) [NeZero N] : Fin N × Fin N := (0, 1)

/-- Adjacency matrix of the torus graph: entry `(p, q)` counts how many of
`p + e₁, p - e₁, p + e₂, p - e₂` equal `q`. -/
noncomputable def adjacency (N : ℕ) [NeZero N] : Matrix (Fin N × Fin N) (Fin N × Fin N) ℝ :=
  Matrix.of fun p q =>
    (if q = p + e₁ N then (1 : ℝ) else 0) + (if q = p - e₁ N then (1 : ℝ) else 0) +
      (if q = p + e₂ N then (1 : ℝ) else 0) + (if q = p - e₂ N then (1 : ℝ) else 0)

/-- Graph Laplacian `L = 4I - A` of the torus graph. -/
noncomputable def laplacian (N : ℕ) [NeZero N] : Matrix (Fin N × Fin N) (Fin N × Fin N) ℝ :=
  Matrix.of fun p q => (if p = q then (4 : ℝ) else 0) - adjacency N p q

/-- Summing against an indicator picks one value. -/
lemma sum_ite_eq_mul {α : Type*} [Fintype α] [DecidableEq α] (a : α) (v : α → ℝ) :
    ∑ q, (if q = a then (1 : ℝ) else 0) * v q = v a := by
  simp only [ite_mul, one_mul, zero_mul]
  first
  | exact Fintype.sum_ite_eq' a v
  | simp

/-- Summing against an indicator picks one value (equality the other way round). -/
lemma sum_ite_eq_mul' {α : Type*} [Fintype α] [DecidableEq α] (a : α) (v : α → ℝ) :
    ∑ q, (if a = q then (1 : ℝ) else 0) * v q = v a := by
  simp only [ite_mul, one_mul, zero_mul]
  first
  | exact Fintype.sum_ite_eq a v
  | simp

section Graph

variable {N : ℕ} [NeZero N]

lemma add_e₁_fst (p : Fin N × Fin N) : (p + e₁ N).1 = p.1 + 1 := rfl

lemma add_e₁_snd (p : Fin N × Fin N) : (p + e₁ N).2 = p.2 := by
  show p.2 + 0 = p.2
  exact add_zero _

lemma add_e₂_fst (p : Fin N × Fin N) : (p + e₂ N).1 = p.1 := by
  show p.1 + 0 = p.1
  exact add_zero _

lemma add_e₂_snd (p : Fin N × Fin N) : (p + e₂ N).2 = p.2 + 1 := rfl

/-- The Laplacian acts by `(L v)(p) = 4 v(p) - Σ_{neighbours q} v(q)`: first the adjacency. -/
theorem adjacency_mulVec (v : Fin N × Fin N → ℝ) (p : Fin N × Fin N) :
    (adjacency N *ᵥ v) p = v (p + e₁ N) + v (p - e₁ N) + v (p + e₂ N) + v (p - e₂ N) := by
  show ∑ q, adjacency N p q * v q = _
  have h : ∀ q, adjacency N p q * v q =
      (if q = p + e₁ N then (1 : ℝ) else 0) * v q + (if q = p - e₁ N then (1 : ℝ) else 0) * v q +
        (if q = p + e₂ N then (1 : ℝ) else 0) * v q +
          (if q = p - e₂ N then (1 : ℝ) else 0) * v q := by
    intro q
    simp only [adjacency, Matrix.of_apply]
    ring
  rw [Finset.sum_congr rfl (fun q _ => h q)]
  simp only [Finset.sum_add_distrib, sum_ite_eq_mul]

/-- `(L v)(p) = 4 v(p) - (v(p+e₁) + v(p-e₁) + v(p+e₂) + v(p-e₂))`. -/
theorem laplacian_mulVec (v : Fin N × Fin N → ℝ) (p : Fin N × Fin N) :
    (laplacian N *ᵥ v) p =
      4 * v p - (v (p + e₁ N) + v (p - e₁ N) + v (p + e₂ N) + v (p - e₂ N)) := by
  rw [← adjacency_mulVec v p]
  show ∑ q, laplacian N p q * v q = 4 * v p - ∑ q, adjacency N p q * v q
  have h : ∀ q, laplacian N p q * v q =
      4 * ((if p = q then (1 : ℝ) else 0) * v q) - adjacency N p q * v q := by
    intro q
    simp only [laplacian, Matrix.of_apply]
    split_ifs <;> ring
  rw [Finset.sum_congr rfl (fun q _ => h q), Finset.sum_sub_distrib, ← Finset.mul_sum,
    sum_ite_eq_mul']

/-- `L = 4 • 1 - A`. -/
theorem laplacian_eq :
    laplacian N = (4 : ℝ) • (1 : Matrix (Fin N × Fin N) (Fin N × Fin N) ℝ) - adjacency N := by
  ext p q
  simp only [laplacian, Matrix.of_apply, Matrix.sub_apply, Matrix.smul_apply, Matrix.one_apply,
    smul_eq_mul]
  split_ifs <;> ring

/-- `[q = p + e] = [p = q - e]`: the relation "is the `e`-neighbour of" is symmetric up to
reversing `e`. -/
lemma ite_add_eq_symm (p q e : Fin N × Fin N) :
    (if q = p + e then (1 : ℝ) else 0) = (if p = q - e then (1 : ℝ) else 0) := by
  by_cases h : q = p + e
  · have h' : p = q - e := by
      rw [h]
      simp
    rw [if_pos h, if_pos h']
  · have h' : ¬ p = q - e := by
      intro h'
      apply h
      rw [h']
      simp
    rw [if_neg h, if_neg h']

theorem adjacency_apply_symm (p q : Fin N × Fin N) : adjacency N p q = adjacency N q p := by
  simp only [adjacency, Matrix.of_apply]
  rw [ite_add_eq_symm p q (e₁ N), ← ite_add_eq_symm q p (e₁ N), ite_add_eq_symm p q (e₂ N),
    ← ite_add_eq_symm q p (e₂ N)]
  ring

theorem laplacian_apply_symm (p q : Fin N × Fin N) : laplacian N p q = laplacian N q p := by
  simp only [laplacian, Matrix.of_apply]
  rw [adjacency_apply_symm p q]
  by_cases h : p = q
  · rw [if_pos h, if_pos h.symm]
  · rw [if_neg h, if_neg (Ne.symm h)]

/-- `L` is symmetric: `Lᵀ = L`. -/
theorem laplacian_isSymm : (laplacian N).IsSymm := by
  show (laplacian N).transpose = laplacian N
  ext p q
  first
  | (rw [Matrix.transpose_apply]; exact laplacian_apply_symm q p)
  | exact laplacian_apply_symm q p

/-- Every site has degree 4 (neighbours counted with multiplicity). -/
theorem adjacency_row_sum (p : Fin N × Fin N) : ∑ q, adjacency N p q = 4 := by
  have h := adjacency_mulVec (fun _ => (1 : ℝ)) p
  have h' : (adjacency N *ᵥ fun _ => (1 : ℝ)) p = ∑ q, adjacency N p q := by
    show ∑ q, adjacency N p q * 1 = _
    simp only [mul_one]
  rw [← h', h]
  norm_num

/-- Rows of `L` sum to zero. -/
theorem laplacian_row_sum (p : Fin N × Fin N) : ∑ q, laplacian N p q = 0 := by
  have h := laplacian_mulVec (fun _ => (1 : ℝ)) p
  have h' : (laplacian N *ᵥ fun _ => (1 : ℝ)) p = ∑ q, laplacian N p q := by
    show ∑ q, laplacian N p q * 1 = _
    simp only [mul_one]
  rw [← h', h]
  norm_num

/-- The constant vector is in the kernel of `L`. -/
theorem laplacian_mulVec_const (c : ℝ) : (laplacian N *ᵥ fun _ => c) = 0 := by
  funext p
  rw [laplacian_mulVec]
  show 4 * c - (c + c + c + c) = 0
  ring

/-- Translation invariance of sums over the torus. -/
lemma sum_shift (f : Fin N × Fin N → ℝ) (e : Fin N × Fin N) :
    ∑ p, f (p + e) = ∑ p, f p := by
  first
  | exact (Equiv.addRight e).sum_comp f
  | exact Fintype.sum_equiv (Equiv.addRight e) _ _ (fun _ => rfl)

lemma sum_mul_sub (x : Fin N × Fin N → ℝ) (e : Fin N × Fin N) :
    ∑ p, x p * x (p - e) = ∑ p, x p * x (p + e) := by
  have h := sum_shift (fun p => x p * x (p - e)) e
  have h2 : ∑ p, x (p + e) * x p = ∑ p, x p * x (p - e) := by
    first
    | simpa only [add_sub_cancel_right] using h
    | simpa using h
  rw [← h2]
  exact Finset.sum_congr rfl (fun p _ => mul_comm _ _)

/-- **Quadratic form.** `xᵀ L x = Σ_p ((x p - x (p+e₁))² + (x p - x (p+e₂))²)`: the sum over the
edges `{p, p + e₁}` and `{p, p + e₂}` (each edge of the torus once) of squared differences. -/
theorem laplacian_quadratic_form (x : Fin N × Fin N → ℝ) :
    x ⬝ᵥ (laplacian N *ᵥ x) = ∑ p, ((x p - x (p + e₁ N)) ^ 2 + (x p - x (p + e₂ N)) ^ 2) := by
  show ∑ p, x p * (laplacian N *ᵥ x) p = _
  rw [← sub_eq_zero, ← Finset.sum_sub_distrib]
  have key : ∀ p, x p * (laplacian N *ᵥ x) p -
      ((x p - x (p + e₁ N)) ^ 2 + (x p - x (p + e₂ N)) ^ 2) =
      (x p ^ 2 - x (p + e₁ N) ^ 2) + (x p ^ 2 - x (p + e₂ N) ^ 2) +
        (x p * x (p + e₁ N) - x p * x (p - e₁ N)) +
          (x p * x (p + e₂ N) - x p * x (p - e₂ N)) := by
    intro p
    rw [laplacian_mulVec]
    ring
  rw [Finset.sum_congr rfl (fun p _ => key p)]
  simp only [Finset.sum_add_distrib, Finset.sum_sub_distrib]
  rw [sum_mul_sub x (e₁ N), sum_mul_sub x (e₂ N), sum_shift (fun p => x p ^ 2) (e₁ N),
    sum_shift (fun p => x p ^ 2) (e₂ N)]
  ring

/-- **Positive semidefiniteness.** `0 ≤ xᵀ L x` for every real vector `x`. Together with
`laplacian_isSymm` this is `L ⪰ 0` (for real vectors `star x = x`). -/
theorem laplacian_quadratic_nonneg (x : Fin N × Fin N → ℝ) : 0 ≤ x ⬝ᵥ (laplacian N *ᵥ x) := by
  rw [laplacian_quadratic_form]
  exact Finset.sum_nonneg (fun p _ => add_nonneg (sq_nonneg _) (sq_nonneg _))

end Graph

end JepaTorus
