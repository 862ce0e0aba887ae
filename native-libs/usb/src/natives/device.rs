//! `wasi:usb/device`: enumeration, opening, configuration and interfaces, and creating
//! transfers on a device handle.

use wasi_hw_engine::{Caller, HostModule, Trap};

use super::{interface_call, interface_guard, unit_call, whole_device_guard, MAX_STREAM_ENDPOINTS};
use crate::abi;
use crate::backend::{TransferSetup, TransferType};
use crate::ctx::{with_state, DeviceRes, HandleRes};
use crate::error::UsbError;

pub(super) fn module(name: &str) -> HostModule {
    HostModule::new(name)
        .func_wrap("init", |c: &mut Caller<'_>, ret: u32| {
            abi::check_area(c, ret, abi::RESULT_UNIT)?;
            with_state(c, |s| {
                log::debug!("usb: init ({} backend)", s.backend.name())
            });
            abi::store_result_unit(c, ret, Ok(()))
        })
        .func_wrap("list-devices", |c: &mut Caller<'_>, ret: u32| {
            abi::check_area(c, ret, abi::RESULT_LIST)?;
            let r = with_state(c, |s| s.list_devices());
            let lowered = match r {
                Ok(elems) => Ok(abi::lower_array(
                    c,
                    &elems.concat(),
                    abi::LIST_DEVICES_ELEM_SIZE,
                    abi::LIST_DEVICES_ELEM_ALIGN,
                )?),
                Err(e) => Err(e),
            };
            abi::store_result_list(c, ret, lowered)
        })
        .func_wrap(
            "[method]usb-device.open",
            |c: &mut Caller<'_>, this: u32, ret: u32| {
                abi::check_area(c, ret, abi::RESULT_HANDLE)?;
                let r = with_state(c, |s| s.open(this))?;
                abi::store_result_handle(c, ret, r)
            },
        )
        .func_wrap(
            "[method]usb-device.get-configuration-descriptor",
            |c: &mut Caller<'_>, this: u32, index: u8, ret: u32| {
                abi::check_area(c, ret, abi::RESULT_CONFIG)?;
                let r = with_state(c, |s| s.config_by_index(this, index))?;
                abi::store_result_config(c, ret, r.as_ref().map_err(|e| *e))
            },
        )
        .func_wrap(
            "[method]usb-device.get-configuration-descriptor-by-value",
            |c: &mut Caller<'_>, this: u32, value: u8, ret: u32| {
                abi::check_area(c, ret, abi::RESULT_CONFIG)?;
                let r = with_state(c, |s| s.config_by_value(this, value))?;
                abi::store_result_config(c, ret, r.as_ref().map_err(|e| *e))
            },
        )
        .func_wrap(
            "[method]usb-device.get-active-configuration-descriptor",
            |c: &mut Caller<'_>, this: u32, ret: u32| {
                abi::check_area(c, ret, abi::RESULT_CONFIG)?;
                let r = with_state(c, |s| s.active_config(this))?;
                abi::store_result_config(c, ret, r.as_ref().map_err(|e| *e))
            },
        )
        .func_wrap(
            "[method]device-handle.get-configuration",
            |c: &mut Caller<'_>, this: u32, ret: u32| {
                abi::check_area(c, ret, abi::RESULT_U8)?;
                let r = with_state(c, |s| s.with_open(this, |h, _| h.get_configuration()))?;
                abi::store_result_u8(c, ret, r)
            },
        )
        .func_wrap(
            "[method]device-handle.set-configuration",
            // variant config-value { unconfigured, value(u8) }: (discriminant, payload).
            |c: &mut Caller<'_>, this: u32, case: u32, value: u8, ret: u32| {
                abi::check_area(c, ret, abi::RESULT_UNIT)?;
                let value = match case {
                    0 => 0,
                    1 => value,
                    d => return Err(Trap::new(format!("invalid config-value discriminant {d}"))),
                };
                let r = with_state(c, |s| {
                    s.with_open(this, |h, acc| {
                        whole_device_guard(acc, "set-configuration")?;
                        h.set_configuration(value)
                    })
                })?;
                abi::store_result_unit(c, ret, r)
            },
        )
        .func_wrap(
            "[method]device-handle.claim-interface",
            |c: &mut Caller<'_>, this: u32, interface: u8, ret: u32| {
                interface_call(c, this, interface, ret, |h| h.claim_interface(interface))
            },
        )
        .func_wrap(
            "[method]device-handle.release-interface",
            |c: &mut Caller<'_>, this: u32, interface: u8, ret: u32| {
                interface_call(c, this, interface, ret, |h| h.release_interface(interface))
            },
        )
        .func_wrap(
            "[method]device-handle.set-interface-altsetting",
            |c: &mut Caller<'_>, this: u32, interface: u8, alt: u8, ret: u32| {
                interface_call(c, this, interface, ret, |h| {
                    h.set_alt_setting(interface, alt)
                })
            },
        )
        .func_wrap(
            "[method]device-handle.reset-device",
            |c: &mut Caller<'_>, this: u32, ret: u32| {
                unit_call(c, this, ret, |h, acc| {
                    whole_device_guard(acc, "reset-device")?;
                    h.reset()
                })
            },
        )
        .func_wrap(
            "[method]device-handle.detach-kernel-driver",
            |c: &mut Caller<'_>, this: u32, interface: u8, ret: u32| {
                interface_call(c, this, interface, ret, |h| {
                    h.detach_kernel_driver(interface)
                })
            },
        )
        .func_wrap(
            "[method]device-handle.attach-kernel-driver",
            |c: &mut Caller<'_>, this: u32, interface: u8, ret: u32| {
                interface_call(c, this, interface, ret, |h| {
                    h.attach_kernel_driver(interface)
                })
            },
        )
        .func_wrap(
            "[method]device-handle.clear-halt",
            |c: &mut Caller<'_>, this: u32, endpoint: u8, ret: u32| {
                abi::check_area(c, ret, abi::RESULT_UNIT)?;
                let r = with_state(c, |s| {
                    if !s.endpoint_allowed(this, endpoint)? {
                        return s.with_open(this, |_, _| Err(UsbError::Access));
                    }
                    s.with_open(this, |h, _| h.clear_halt(endpoint))
                })?;
                abi::store_result_unit(c, ret, r)
            },
        )
        .func_wrap(
            "[method]device-handle.kernel-driver-active",
            |c: &mut Caller<'_>, this: u32, interface: u8, ret: u32| {
                abi::check_area(c, ret, abi::RESULT_U8)?;
                let r = with_state(c, |s| {
                    s.with_open(this, |h, acc| {
                        interface_guard(acc, interface)?;
                        h.kernel_driver_active(interface)
                    })
                })?;
                abi::store_result_u8(c, ret, r.map(u8::from))
            },
        )
        .func_wrap(
            "[method]device-handle.alloc-streams",
            |c: &mut Caller<'_>, this: u32, _num_streams: u32, eps: u32, eps_len: u32, ret: u32| {
                abi::check_area(c, ret, abi::RESULT_UNIT)?;
                c.check_range(eps, eps_len)?;
                let r = with_state(c, |s| {
                    s.with_open(this, |_, _| {
                        if eps_len > MAX_STREAM_ENDPOINTS {
                            return Err(UsbError::InvalidParam);
                        }
                        log::warn!("usb: bulk streams are not supported by this backend");
                        Err(UsbError::NotSupported)
                    })
                })?;
                abi::store_result_unit(c, ret, r)
            },
        )
        .func_wrap(
            "[method]device-handle.free-streams",
            |c: &mut Caller<'_>, this: u32, eps: u32, eps_len: u32, ret: u32| {
                abi::check_area(c, ret, abi::RESULT_UNIT)?;
                c.check_range(eps, eps_len)?;
                let r = with_state(c, |s| {
                    s.with_open(this, |_, _| {
                        if eps_len > MAX_STREAM_ENDPOINTS {
                            return Err(UsbError::InvalidParam);
                        }
                        Err(UsbError::NotSupported)
                    })
                })?;
                abi::store_result_unit(c, ret, r)
            },
        )
        .func_wrap("[method]device-handle.new-transfer", new_transfer)
        .func_wrap(
            "[method]device-handle.close",
            |c: &mut Caller<'_>, this: u32| {
                with_state(c, |s| {
                    s.close(s.handle(this)?);
                    Ok(())
                })
            },
        )
        .func_wrap(
            "[resource-drop]usb-device",
            |c: &mut Caller<'_>, this: u32| {
                with_state(c, |s| s.table.delete::<DeviceRes>(this).map(drop))
            },
        )
        .func_wrap(
            "[resource-drop]device-handle",
            |c: &mut Caller<'_>, this: u32| {
                with_state(c, |s| {
                    let res = s.table.delete::<HandleRes>(this)?;
                    s.close(&res);
                    Ok(())
                })
            },
        )
}

/// `[method]device-handle.new-transfer(this, transfer-type, transfer-setup, buf-size,
/// transfer-options) -> result<transfer, libusb-error>`, flattened: the setup record is
/// four fields, the options record (endpoint, timeout-ms, stream-id, iso-packets) four more.
#[allow(clippy::too_many_arguments)]
fn new_transfer(
    c: &mut Caller<'_>,
    this: u32,
    kind: u32,
    bm_request_type: u8,
    b_request: u8,
    w_value: u16,
    w_index: u16,
    buf_size: u32,
    endpoint: u8,
    timeout_ms: u32,
    stream_id: u32,
    _iso_packets: u32,
    ret: u32,
) -> Result<(), Trap> {
    abi::check_area(c, ret, abi::RESULT_HANDLE)?;
    let kind = TransferType::from_discriminant(kind)
        .ok_or_else(|| Trap::new(format!("invalid transfer-type discriminant {kind}")))?;
    let setup = TransferSetup {
        bm_request_type,
        b_request,
        w_value,
        w_index,
    };
    let r = with_state(c, |s| {
        s.new_transfer(this, kind, setup, buf_size, endpoint, timeout_ms, stream_id)
    })?;
    abi::store_result_handle(c, ret, r)
}
