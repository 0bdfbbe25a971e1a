"""Width and height interact: the area and the perimeter must both hit their targets."""

from opto.trace import bundle, node

WIDTH = node(1.0, name="WIDTH", trainable=True, constraint="width of the rectangle, positive")
HEIGHT = node(1.0, name="HEIGHT", trainable=True, constraint="height of the rectangle, positive")


@bundle()
def area(width, height):
    """Area of a width x height rectangle."""
    return width * height


@bundle()
def perimeter(width, height):
    """Perimeter of a width x height rectangle."""
    return 2 * (width + height)


@bundle()
def measure(a, p):
    """The two measurements, rounded to 0.01."""
    return {"area": round(a, 2), "perimeter": round(p, 2)}


def main():
    return measure(area(WIDTH, HEIGHT), perimeter(WIDTH, HEIGHT))


def parameters():
    return [WIDTH, HEIGHT]
