import { ApiKeyEntity } from '../auth/api-key.entity';
import { WorkspaceEntity } from '../auth/workspace.entity';
import { OrderEventEntity, OrderEventQueueEntity } from '../events/order-event.entity';
import { WebhookAttemptEntity, WebhookDeliveryEntity, WebhookEndpointEntity } from '../webhooks/webhook.entity';
import { IdempotencyKeyEntity } from '../orders/idempotency.entity';
import { OrderEntity, OrderItemEntity, OrderNumberCounterEntity } from '../orders/order.entity';

/** Every entity, listed explicitly so that discovery is the same from `src/` and `dist/`. */
export const entities = [WorkspaceEntity, ApiKeyEntity, OrderEntity, OrderItemEntity, OrderNumberCounterEntity, IdempotencyKeyEntity, OrderEventEntity, OrderEventQueueEntity, WebhookEndpointEntity, WebhookDeliveryEntity, WebhookAttemptEntity];
