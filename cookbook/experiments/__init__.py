"""The cookbook's measured comparisons: RNN cells racing, ResNet depth, and attention's cost per length."""
