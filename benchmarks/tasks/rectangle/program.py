"""Width and height interact: the area and the perimeter must both hit their targets."""

WIDTH = 1.0  # autotrace: param > 0 width of the rectangle
HEIGHT = 1.0  # autotrace: param > 0 height of the rectangle


def area(width, height):
    """Area of a width x height rectangle."""
    return width * height


def perimeter(width, height):
    """Perimeter of a width x height rectangle."""
    return 2 * (width + height)


def measure(a, p):
    """The two measurements, rounded to 0.01."""
    return {"area": round(a, 2), "perimeter": round(p, 2)}


def main():
    return measure(area(WIDTH, HEIGHT), perimeter(WIDTH, HEIGHT))
