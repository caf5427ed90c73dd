/**
 * Checks a GraphQL response against what GraphQL Code Generator makes of the
 * schema and the document: a non-null field is never null, an enum holds one
 * of its values, and the custom scalars have the forms the README maps them
 * to (`Decimal` an exact decimal string, `DateTime` an RFC 3339 string). It
 * returns every mismatch as `path: what`, so a test can expect `[]`.
 */
import {
  getNamedType,
  GraphQLEnumType,
  type GraphQLField,
  GraphQLList,
  GraphQLNonNull,
  GraphQLObjectType,
  type GraphQLOutputType,
  GraphQLScalarType,
  type GraphQLSchema,
  isAbstractType,
  Kind,
  type DocumentNode,
  type FragmentDefinitionNode,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';

const DECIMAL = /^-?\d+(\.\d+)?$/;
// RFC 3339 date-time with a zone, as the DateTime scalar's specification asks.
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

export function responseMismatches(
  schema: GraphQLSchema,
  document: DocumentNode,
  data: unknown,
  operationName?: string,
): string[] {
  const fragments = new Map<string, FragmentDefinitionNode>();
  let operation: OperationDefinitionNode | undefined;
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
    if (
      definition.kind === Kind.OPERATION_DEFINITION &&
      (operationName === undefined || definition.name?.value === operationName)
    )
      operation = definition;
  }
  if (!operation) return ['no such operation in the document'];
  const root = schema.getRootType(operation.operation);
  if (!root) return [`the schema has no ${operation.operation} type`];
  const problems: string[] = [];

  const checkObject = (
    type: GraphQLObjectType,
    selections: SelectionSetNode,
    value: unknown,
    path: string,
  ) => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      problems.push(`${path}: expected an object of ${type.name}, got ${JSON.stringify(value)}`);
      return;
    }
    for (const selection of selections.selections) {
      if (selection.kind === Kind.FIELD) {
        const name = selection.name.value;
        if (name === '__typename') continue;
        const key = selection.alias?.value ?? name;
        const field: GraphQLField<unknown, unknown> | undefined = type.getFields()[name];
        if (!field) {
          problems.push(`${path}.${key}: ${type.name} has no field ${name}`);
          continue;
        }
        if (!(key in value)) {
          problems.push(`${path}.${key}: missing`);
          continue;
        }
        checkValue(
          field.type,
          selection.selectionSet,
          (value as Record<string, unknown>)[key],
          `${path}.${key}`,
        );
      } else {
        const set =
          selection.kind === Kind.INLINE_FRAGMENT
            ? selection.selectionSet
            : fragments.get(selection.name.value)?.selectionSet;
        if (set) checkObject(type, set, value, path);
      }
    }
  };

  const checkValue = (
    type: GraphQLOutputType,
    selections: SelectionSetNode | undefined,
    value: unknown,
    path: string,
  ): void => {
    if (type instanceof GraphQLNonNull) {
      if (value === null || value === undefined) {
        problems.push(`${path}: null, but the schema says ${String(type)}`);
        return;
      }
      checkValue(type.ofType as GraphQLOutputType, selections, value, path);
      return;
    }
    if (value === null) return;
    if (type instanceof GraphQLList) {
      if (!Array.isArray(value)) {
        problems.push(`${path}: expected a list, got ${JSON.stringify(value)}`);
        return;
      }
      value.forEach((item, index) =>
        checkValue(type.ofType, selections, item, `${path}[${index}]`),
      );
      return;
    }
    if (type instanceof GraphQLEnumType) {
      if (typeof value !== 'string' || !type.getValue(value))
        problems.push(`${path}: ${JSON.stringify(value)} is not a value of enum ${type.name}`);
      return;
    }
    if (type instanceof GraphQLScalarType) {
      const fits: Record<string, (v: unknown) => boolean> = {
        String: (v) => typeof v === 'string',
        ID: (v) => typeof v === 'string',
        Int: (v) => Number.isInteger(v),
        Float: (v) => typeof v === 'number',
        Boolean: (v) => typeof v === 'boolean',
        Decimal: (v) => typeof v === 'string' && DECIMAL.test(v),
        DateTime: (v) => typeof v === 'string' && DATE_TIME.test(v) && !Number.isNaN(Date.parse(v)),
        JSON: () => true,
      };
      const fit = fits[type.name];
      if (!fit) problems.push(`${path}: no rule for scalar ${type.name}`);
      else if (!fit(value))
        problems.push(`${path}: ${JSON.stringify(value)} does not fit scalar ${type.name}`);
      return;
    }
    if (isAbstractType(getNamedType(type))) {
      problems.push(`${path}: abstract types are not checked`);
      return;
    }
    if (type instanceof GraphQLObjectType && selections) checkObject(type, selections, value, path);
  };

  checkObject(root, operation.selectionSet, data, 'data');
  return problems;
}
