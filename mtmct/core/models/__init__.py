"""Model backends (Paddle Inference, ONNX Runtime, OpenVINO), the model registry and input preprocessing."""
