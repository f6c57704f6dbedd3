"""The methods the paper compares with (Table 1): Gatys et al. (optimise the image), Johnson et al. (one
network per style), the arbitrary-style methods (AdaIN, WCT, Style-Swap, Meta Networks, Avatar-Net), and,
beyond the paper, theta_plain (multi-style training without the inner loop)."""
