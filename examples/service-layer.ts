// Service layer: name the business operations no instrumentation can see, with the attributes you
// would search by. Spans nest by themselves: the active span is the parent of the next one.
import { setAttributes, traced } from '@rustok/otel';

interface Order {
  id: string;
  items: number;
  totalCents: number;
}

class CheckoutService {
  async placeOrder(customer: string, items: number): Promise<Order> {
    return traced(
      'CheckoutService.placeOrder',
      async () => {
        if (items <= 0) throw new RangeError('an order needs at least one item');
        const totalCents = await this.price(items);
        const order = { id: `order-${items}-${customer}`, items, totalCents };
        // Known only now: added to the span that is active here, placeOrder's.
        setAttributes({ 'order.id': order.id, 'order.total_cents': totalCents });
        return order;
      },
      { 'customer.id': customer, 'order.items': items },
    );
  }

  // A synchronous step is traced the same way; the span ends when it returns.
  private price(items: number): number {
    return traced('CheckoutService.price', () => items * 1250);
  }
}

const checkout = new CheckoutService();
console.log(await checkout.placeOrder('c-42', 3));
// The error is recorded on the span (status ERROR, an `exception` event) and reaches the caller unchanged.
await checkout.placeOrder('c-42', 0).catch((error: Error) => console.log(`rejected: ${error.message}`));
