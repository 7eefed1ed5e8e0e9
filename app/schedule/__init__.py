"""Schedule and delivery: content written once, reviewed, published to every channel."""
