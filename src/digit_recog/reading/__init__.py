"""Reading digits in the pictures people bring: ``image`` turns any picture into MNIST's 28x28 layout,
``predict`` loads a model and is the one place that predicts."""
