//! `wasi:usb/hotplug`: device arrival and departure events.

use wasi_hw_engine::{cabi, Caller, HostModule};

use crate::abi;
use crate::ctx::with_state;

pub(super) fn module(name: &str) -> HostModule {
    HostModule::new(name)
        .func_wrap("enable-hotplug", |c: &mut Caller<'_>, ret: u32| {
            abi::check_area(c, ret, abi::RESULT_UNIT)?;
            let r = with_state(c, |s| s.backend.enable_hotplug());
            abi::store_result_unit(c, ret, r)
        })
        .func_wrap("poll-events", |c: &mut Caller<'_>, ret: u32| {
            abi::check_area(c, ret, abi::LIST_RET)?;
            let encoded = with_state(c, |s| s.hotplug_events())?;
            let list =
                abi::lower_array(c, &encoded, abi::HOTPLUG_ELEM_SIZE, abi::HOTPLUG_ELEM_ALIGN)?;
            c.write(ret, &cabi::encode_list(list))
        })
}
