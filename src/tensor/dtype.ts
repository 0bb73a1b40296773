/** Element types a tensor can hold. Floating types are differentiable; `int32` holds indices and labels. */
export type DType = 'float32' | 'float64' | 'int32';

/** The typed array that backs each dtype on the host. */
export type TypedArray = Float32Array | Float64Array | Int32Array;

/** The typed array constructor for a dtype. */
export function arrayTypeOf(
  dtype: DType,
): Float32ArrayConstructor | Float64ArrayConstructor | Int32ArrayConstructor {
  switch (dtype) {
    case 'float32':
      return Float32Array;
    case 'float64':
      return Float64Array;
    case 'int32':
      return Int32Array;
  }
}

/** Allocates a zero-filled host array for `size` elements of `dtype`. */
export function allocArray(dtype: DType, size: number): TypedArray {
  return new (arrayTypeOf(dtype))(size);
}

/** True for the dtypes a tape can differentiate. */
export function isFloat(dtype: DType): boolean {
  return dtype !== 'int32';
}

/** The dtype of a host typed array. */
export function dtypeOfArray(a: TypedArray): DType {
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Float64Array) return 'float64';
  return 'int32';
}
