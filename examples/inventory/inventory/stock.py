"""Items and quantities, with reorder rules."""


class OutOfStock(Exception):
    """Raised when removing more than there is."""


class Stock:
    def __init__(self):
        self.items = {}

    def add(self, name, quantity=1):
        if quantity <= 0:
            raise ValueError("quantity must be positive")
        self.items[name] = self.items.get(name, 0) + quantity

    def remove(self, name, quantity=1):
        have = self.items.get(name, 0)
        if quantity > have:
            raise OutOfStock(name)
        self.items[name] = have - quantity

    def to_reorder(self, minimum):
        return sorted(name for name, n in self.items.items() if n < minimum)

    def report(self):  # never called by the tests: shows up as missing
        lines = []
        for name in sorted(self.items):
            lines.append(f"{name}: {self.items[name]}")
        return "\n".join(lines)
