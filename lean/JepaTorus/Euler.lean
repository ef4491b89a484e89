import Mathlib
import JepaTorus.TorusGraph

/-!
# Cell counts of the `N × N` torus quadrangulation

The square grid on the torus has
* vertices: the sites `Fin N × Fin N`;
* edges: one per site and direction, `(p, d)` with `d : Fin 2` standing for the edge
  `{p, p + e₁}` (`d = 0`) or `{p, p + e₂}` (`d = 1`); these are exactly the terms of
  `laplacian_quadratic_form`, and `adjacency_total` checks them against the adjacency matrix
  (handshake lemma `Σ_{p,q} A p q = 2 |E|`);
* faces: one unit square per lower-left corner `p`, with corners `p, p+e₁, p+e₁+e₂, p+e₂`.

So `V = N²`, `E = 2N²`, `F = N²` and `V - E + F = 0 = χ(T²) = b₀ - b₁ + b₂ = 1 - 2 + 1`.
-/

namespace JepaTorus

/-- Vertices of the torus quadrangulation. -/
def vertices (N : ℕ) : Finset (Fin N × Fin N) := Finset.univ

/-- Edges, as (start site, direction). -/
def edges (N : ℕ) : Finset ((Fin N × Fin N) × Fin 2) := Finset.univ

/-- Faces, indexed by their lower-left corner. -/
def faces (N : ℕ) : Finset (Fin N × Fin N) := Finset.univ

/-- The two endpoints of an edge. -/
def edgeEnds {N : ℕ} [NeZero N] (x : (Fin N × Fin N) × Fin 2) : (Fin N × Fin N) × (Fin N × Fin N) :=
  (x.1, x.1 + (if x.2 = 0 then e₁ N else e₂ N))

/-- The four corners of a face, counter-clockwise. -/
def faceCorners {N : ℕ} [NeZero N] (p : Fin N × Fin N) : List (Fin N × Fin N) :=
  [p, p + e₁ N, p + e₁ N + e₂ N, p + e₂ N]

theorem card_vertices (N : ℕ) : (vertices N).card = N ^ 2 := by
  simp only [vertices, Finset.card_univ, Fintype.card_prod, Fintype.card_fin]
  ring

theorem card_edges (N : ℕ) : (edges N).card = 2 * N ^ 2 := by
  simp only [edges, Finset.card_univ, Fintype.card_prod, Fintype.card_fin]
  ring

theorem card_faces (N : ℕ) : (faces N).card = N ^ 2 := by
  simp only [faces, Finset.card_univ, Fintype.card_prod, Fintype.card_fin]
  ring

/-- `V - E + F = 0`. -/
theorem euler_characteristic (N : ℕ) :
    ((vertices N).card : ℤ) - ((edges N).card : ℤ) + ((faces N).card : ℤ) = 0 := by
  rw [card_vertices, card_edges, card_faces]
  push_cast
  ring

/-- `V - E + F = b₀ - b₁ + b₂` for the Betti numbers `(1, 2, 1)` of the torus. -/
theorem euler_characteristic_eq_betti (N : ℕ) :
    ((vertices N).card : ℤ) - ((edges N).card : ℤ) + ((faces N).card : ℤ) = 1 - 2 + 1 := by
  linarith [euler_characteristic N]

/-- Handshake lemma: the entries of the adjacency matrix add up to twice the number of
edges, `Σ_{p,q} A p q = 4N² = 2 |E|`. -/
theorem adjacency_total (N : ℕ) [NeZero N] :
    ∑ p, ∑ q, adjacency N p q = 2 * ((edges N).card : ℝ) := by
  have h : ∀ p : Fin N × Fin N, ∑ q, adjacency N p q = 4 := adjacency_row_sum
  rw [Finset.sum_congr rfl (fun p _ => h p), card_edges]
  first
  | (rw [Finset.sum_const, Finset.card_univ, Fintype.card_prod, Fintype.card_fin, nsmul_eq_mul]; push_cast; ring)
  | (simp; ring)
  | simp

end JepaTorus
