/**
 * @peculiar/x509 resolves its algorithm providers through tsyringe, which refuses to load unless a Reflect metadata
 * polyfill is installed (it only calls getMetadata/getOwnMetadata/defineMetadata). This is the minimal polyfill,
 * for dev tooling and tests only (src/ never imports @peculiar/x509). Import it before @peculiar/x509.
 * The proper fix is the `reflect-metadata` devDependency; this avoids adding a package for three functions.
 */
type MetadataStore = WeakMap<object, Map<unknown, unknown>>;

interface ReflectMetadata {
  getMetadata?: (key: unknown, target: object) => unknown;
  getOwnMetadata?: (key: unknown, target: object) => unknown;
  defineMetadata?: (key: unknown, value: unknown, target: object) => void;
}

const reflect = Reflect as typeof Reflect & ReflectMetadata;

if (typeof reflect.getMetadata !== 'function') {
  const store: MetadataStore = new WeakMap();
  const own = (key: unknown, target: object) => store.get(target)?.get(key);
  reflect.getOwnMetadata = own;
  reflect.getMetadata = (key, target) => {
    for (let t: object | null = target; t !== null; t = Object.getPrototypeOf(t)) {
      const value = own(key, t);
      if (value !== undefined) return value;
    }
    return undefined;
  };
  reflect.defineMetadata = (key, value, target) => {
    let map = store.get(target);
    if (!map) {
      map = new Map();
      store.set(target, map);
    }
    map.set(key, value);
  };
}
