"""The paper's method (Zhang, Zhu, Zhu, AAAI 2019): the transformation network, the VGG-16 loss network and
the perceptual losses, fast weights, bilevel meta-training (Algorithm 1), adaptation to a new style,
stylisation of images and video, and style interpolation in weight space."""
