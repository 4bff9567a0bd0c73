// The code examples/testing/checkout.test.ts unit-tests: a business operation traced with `traced()`,
// with the attributes someone would search by.
import { setAttributes, traced } from '@rustok/otel';

export interface Order {
  id: string;
  totalCents: number;
}

export function placeOrder(customer: string, items: number): Promise<Order> {
  return traced(
    'checkout.place_order',
    async () => {
      if (items <= 0) throw new RangeError('an order needs at least one item');
      const order = { id: `order-${customer}-${items}`, totalCents: items * 1250 };
      setAttributes({ 'order.id': order.id, 'order.total_cents': order.totalCents });
      return order;
    },
    { 'customer.id': customer, 'order.items': items },
  );
}
