import JepaTorus.Spectrum
import JepaTorus.TorusGraph
import JepaTorus.Fourier
import JepaTorus.Euler
import JepaTorus.Diversity
