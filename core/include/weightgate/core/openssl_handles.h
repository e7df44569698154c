// Owning handles for the OpenSSL objects weightgate uses, so every library frees them the
// same way (signing, gating) instead of each declaring its own deleters.
#pragma once

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>

namespace wg {

template <auto Free>
struct OpenSslFree {
  template <class T>
  void operator()(T* p) const {
    Free(p);
  }
};

using BioHandle = std::unique_ptr<BIO, OpenSslFree<BIO_free>>;
using X509Handle = std::unique_ptr<X509, OpenSslFree<X509_free>>;
using PkeyHandle = std::unique_ptr<EVP_PKEY, OpenSslFree<EVP_PKEY_free>>;
using PkeyCtxHandle = std::unique_ptr<EVP_PKEY_CTX, OpenSslFree<EVP_PKEY_CTX_free>>;
using CipherCtxHandle = std::unique_ptr<EVP_CIPHER_CTX, OpenSslFree<EVP_CIPHER_CTX_free>>;

}  // namespace wg
