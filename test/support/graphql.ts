/**
 * The GraphQL documents the tests send, written once. Each asks for every
 * field of an order, so a test can compare whole answers.
 */
const ADDRESS = 'name company address address2 city state postalCode country phone email';

export const ORDER_FIELDS = `id orderNumber customerId status
  items { productId name quantity price sku subtotal }
  subtotal shipping tax total currency
  shippingAddress { ${ADDRESS} } billingAddress { ${ADDRESS} }
  notes metadata trackingNumber trackingUrl statusHistory { status timestamp } createdAt updatedAt`;

export const USER_ERRORS = 'userErrors { field message code }';

export const CREATE_ORDER = `mutation CreateOrder($input: CreateOrderInput!, $idempotencyKey: String) {
  createOrder(input: $input, idempotencyKey: $idempotencyKey) { order { ${ORDER_FIELDS} } replayed ${USER_ERRORS} }
}`;

export const UPDATE_ORDER = `mutation UpdateOrder($id: ID!, $input: UpdateOrderInput!) {
  updateOrder(id: $id, input: $input) { order { ${ORDER_FIELDS} } ${USER_ERRORS} }
}`;

export const ORDER = `query Order($id: ID!) { order(id: $id) { ${ORDER_FIELDS} } }`;

export const ORDERS = `query Orders($first: Int, $after: String, $filter: OrderFilter) {
  orders(first: $first, after: $after, filter: $filter) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { ${ORDER_FIELDS} } }
  }
}`;
