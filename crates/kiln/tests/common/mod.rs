//! What the component tests share: calling an exported function with dynamic values.
use kiln::Store;
use kiln::component::{Instance, Val};

/// Calls the export `name` of `instance` with `args`, returning its results.
pub fn call<T>(store: &mut Store<T>, instance: &Instance, name: &str, args: &[Val]) -> kiln::Result<Vec<Val>> {
    let f = instance.get_func(&mut *store, name).expect("export exists");
    let mut results = vec![Val::Bool(false); f.results_len(&*store)];
    f.call(&mut *store, args, &mut results)?;
    Ok(results)
}
