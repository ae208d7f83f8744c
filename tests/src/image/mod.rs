//! Container images without a registry or a container builder.
//!
//! No registry is reachable from the machines that run the tests, so images
//! cannot be pulled, and a builder that starts `FROM` a base image cannot
//! run. The images here have no base at all (`FROM scratch`): their final
//! stage only copies files in and sets the run-time config. That is simple
//! enough to reproduce exactly: [`dockerfile`] reads a Dockerfile's final
//! stage, [`archive`] writes an OCI image layout with the image's one layer
//! holding exactly the files the final stage copies (the `oci-spec` types),
//! which `ctr images import`, `podman load` and `docker load` take, and
//! [`tar`] writes and reads the tar streams of the layer and the archive
//! (the `tar` crate).

pub mod archive;
pub mod dockerfile;
pub mod elf;
pub mod tar;
