//! `wasi:filesystem`: `types` (descriptors, their streams and directory listings, and
//! `filesystem-error-code`) and `preopens` (the context's preopened directories, each a
//! descriptor that allows changes only if the preopen is `DirAccess::ReadWrite`).
//! `types.rs` holds the value types, `descriptor.rs` the resources and their methods.
mod descriptor;
mod types;

use super::io::{InputStream, IoError, OutputStream};
use super::{Interface, WasiView};
use crate::DirAccess;
use descriptor::{Descriptor, DirectoryEntryStream};
use kiln::component::{Linker, Resource};
use types::ErrorCode;

pub(super) fn add_to_linker<T: 'static>(linker: &mut Linker<T>, view: WasiView<T>) -> kiln::Result<()> {
    let mut t = Interface::new(linker, view, "wasi:filesystem/types")?;
    t.resource::<InputStream>("input-stream")?;
    t.resource::<OutputStream>("output-stream")?;
    t.resource::<IoError>("error")?;
    t.resource::<Descriptor>("descriptor")?;
    t.resource::<DirectoryEntryStream>("directory-entry-stream")?;
    let d = |m: &str| format!("[method]descriptor.{m}");
    t.func(&d("read-via-stream"), descriptor::read_via_stream)?;
    t.func(&d("write-via-stream"), descriptor::write_via_stream)?;
    t.func(&d("append-via-stream"), descriptor::append_via_stream)?;
    t.func(&d("advise"), descriptor::advise)?;
    t.func(&d("sync-data"), descriptor::sync_data)?;
    t.func(&d("get-flags"), descriptor::get_flags)?;
    t.func(&d("get-type"), descriptor::get_type)?;
    t.func(&d("set-size"), descriptor::set_size)?;
    t.func(&d("set-times"), descriptor::set_times)?;
    t.func(&d("read"), descriptor::read)?;
    t.func(&d("write"), descriptor::write)?;
    t.func(&d("read-directory"), descriptor::read_directory)?;
    t.func(&d("sync"), descriptor::sync)?;
    t.func(&d("create-directory-at"), descriptor::create_directory_at)?;
    t.func(&d("stat"), descriptor::stat)?;
    t.func(&d("stat-at"), descriptor::stat_at)?;
    t.func(&d("set-times-at"), descriptor::set_times_at)?;
    t.func(&d("link-at"), descriptor::link_at)?;
    t.func(&d("open-at"), descriptor::open_at)?;
    t.func(&d("readlink-at"), descriptor::readlink_at)?;
    t.func(&d("remove-directory-at"), descriptor::remove_directory_at)?;
    t.func(&d("rename-at"), descriptor::rename_at)?;
    t.func(&d("symlink-at"), descriptor::symlink_at)?;
    t.func(&d("unlink-file-at"), descriptor::unlink_file_at)?;
    t.func(&d("is-same-object"), descriptor::is_same_object)?;
    t.func(&d("metadata-hash"), descriptor::metadata_hash)?;
    t.func(&d("metadata-hash-at"), descriptor::metadata_hash_at)?;
    t.func("[method]directory-entry-stream.read-directory-entry", descriptor::read_directory_entry)?;
    t.func("filesystem-error-code", |h, (e,): (Resource<IoError>,)| {
        Ok((h.table.get(&e)?.errno.map(ErrorCode::from),))
    })?;

    let mut preopens = Interface::new(linker, view, "wasi:filesystem/preopens")?;
    preopens.resource::<Descriptor>("descriptor")?;
    preopens.func("get-directories", |h, ()| {
        let mut dirs = Vec::new();
        for (name, dir, access) in h.ctx.preopens() {
            let dir = dir.try_clone().map_err(|e| kiln::Error::Host(Box::new(e)))?;
            dirs.push((Descriptor::preopen(dir, access == DirAccess::ReadWrite), name.to_string()));
        }
        let mut out = Vec::with_capacity(dirs.len());
        for (d, name) in dirs {
            out.push((h.table.push(d)?, name));
        }
        Ok((out,))
    })
}
