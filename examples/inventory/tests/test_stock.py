import unittest

from inventory import Stock
from inventory.stock import OutOfStock


class StockTests(unittest.TestCase):
    def test_add_many(self):
        stock = Stock()
        for i in range(1000):
            stock.add(f"item{i % 10}")
        self.assertEqual(stock.items["item3"], 100)

    def test_remove_too_many(self):
        stock = Stock()
        stock.add("bolt", 2)
        with self.assertRaises(OutOfStock):
            stock.remove("bolt", 3)

    def test_reorder(self):
        stock = Stock()
        stock.add("nut", 1)
        stock.add("gear", 9)
        self.assertEqual(stock.to_reorder(5), ["nut"])


if __name__ == "__main__":
    unittest.main()
